package main

import (
	"context"
	"errors"
)

// cmdStatus is not built yet: see the open issue that delivers it.
func cmdStatus(ctx context.Context, e *env, args []string) error {
	return errors.New("status: not implemented yet")
}
