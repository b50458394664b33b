package main

import (
	"context"
	"errors"
)

// cmdDigestSend is not built yet: see the sending issue.
func cmdDigestSend(ctx context.Context, e *env, args []string) error {
	return errors.New("digest send: not implemented yet")
}
