//go:build !linux

package ifwatch

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Options configures Watch.
type Options struct {
	Interface string
	Log       *slog.Logger
	OnLink    func(Link)
	OnAddrs   func()
	Poll      time.Duration
}

// Watch always fails outside Linux.
func Watch(context.Context, Options) (Link, error) {
	return Link{}, errors.New("ifwatch: only implemented for Linux")
}
