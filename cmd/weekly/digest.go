package main

import (
	"context"
	"errors"
)

// cmdDigest is not built yet: see the open issue that delivers it.
func cmdDigest(ctx context.Context, e *env, args []string) error {
	return errors.New("digest: not implemented yet")
}
