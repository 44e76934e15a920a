//go:build !linux

package appliance

func newFDTimer() (timer, error) { return newGoTimer() }
