package main

import (
	"context"
	"errors"
)

// cmdServe is not built yet: see the open issue that delivers it.
func cmdServe(ctx context.Context, e *env, args []string) error {
	return errors.New("serve: not implemented yet")
}
