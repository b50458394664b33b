package main

import (
	"context"
	"errors"
)

// cmdIssues is not built yet: see the open issue that delivers it.
func cmdIssues(ctx context.Context, e *env, args []string) error {
	return errors.New("issues: not implemented yet")
}
