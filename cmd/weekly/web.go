package main

import (
	"context"
	"errors"
)

// cmdWeb is not built yet: see the open issue that delivers it.
func cmdWeb(ctx context.Context, e *env, args []string) error {
	return errors.New("web: not implemented yet")
}
