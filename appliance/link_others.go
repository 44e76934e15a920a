//go:build !linux

package appliance

import (
	"context"
	"errors"
)

// netlinkLinks is unavailable outside Linux.
type netlinkLinks struct{ ifname string }

func (netlinkLinks) Watch(context.Context) (bool, <-chan bool, error) {
	return false, nil, errors.New("link state is only watched on Linux")
}
