package main

import (
	"context"
	"errors"
)

// cmdDemo is not built yet: see the open issue that delivers it.
func cmdDemo(ctx context.Context, e *env, args []string) error {
	return errors.New("demo: not implemented yet")
}
