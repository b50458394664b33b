package main

import (
	"context"
	"errors"
)

// cmdFeeds is not built yet: see the open issue that delivers it.
func cmdFeeds(ctx context.Context, e *env, args []string) error {
	return errors.New("feeds: not implemented yet")
}
