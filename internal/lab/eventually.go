package lab

import (
	"context"
	"fmt"
	"time"
)

// Eventually calls cond at once and then every interval until it returns
// true or ctx ends (give ctx the deadline). cond's string says what it saw;
// the error wraps ctx's error and carries the last such detail, so a
// failing test tells what state the lab was stuck in.
func Eventually(ctx context.Context, every time.Duration, cond func() (ok bool, detail string)) error {
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met: %w; last: %s", context.Cause(ctx), detail)
		case <-t.C:
		}
	}
}
