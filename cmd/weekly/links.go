package main

import (
	"context"
	"errors"
)

// cmdLinks is not built yet: see the open issue that delivers it.
func cmdLinks(ctx context.Context, e *env, args []string) error {
	return errors.New("links: not implemented yet")
}
