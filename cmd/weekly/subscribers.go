package main

import (
	"context"
	"errors"
)

// cmdSubscribers is not built yet: see the open issue that delivers it.
func cmdSubscribers(ctx context.Context, e *env, args []string) error {
	return errors.New("subscribers: not implemented yet")
}
