package hooks

import (
	"context"
	"testing"
	"time"
)

// BenchmarkNotify is what a transition costs the VRRP loop: queueing only,
// here with the queue full behind a hook that sleeps (the drop path, the
// dearest: it logs).
func BenchmarkNotify(b *testing.B) {
	r := New(Commands{Master: [][]string{{"/bin/sleep", "1000"}}, Timeout: time.Hour}, Options{KillGrace: 10 * time.Millisecond})
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.Close(ctx)
	}()
	t := tr(Master)
	for b.Loop() {
		r.Notify(t)
	}
}

// BenchmarkNotifyNoHooks: a transition whose state has no hooks.
func BenchmarkNotifyNoHooks(b *testing.B) {
	r := New(Commands{}, Options{})
	defer r.Close(context.Background())
	t := tr(Master)
	for b.Loop() {
		r.Notify(t)
	}
}
