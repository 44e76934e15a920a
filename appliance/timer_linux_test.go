package appliance

import (
	"testing"
	"time"
)

// These use the real clock: a timerfd is a kernel timer, outside synctest.

func TestFDTimerFiresNotBefore(t *testing.T) {
	tm, err := newFDTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	start := time.Now()
	tm.Reset(20 * time.Millisecond)
	select {
	case <-tm.C():
		if el := time.Since(start); el < 20*time.Millisecond {
			t.Errorf("fired after %v, before its 20ms", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never fired")
	}
}

func TestFDTimerPastDeadlineFires(t *testing.T) {
	tm, err := newFDTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tm.Reset(-time.Second) // a deadline already passed: fire at once, not never
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("a past deadline never fired")
	}
}

func TestFDTimerStop(t *testing.T) {
	tm, err := newFDTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tm.Reset(10 * time.Millisecond)
	tm.Stop()
	select {
	case <-tm.C():
		t.Fatal("fired after Stop")
	case <-time.After(200 * time.Millisecond):
	}
	// Re-armed after a Stop, it fires again.
	tm.Reset(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("never fired after re-arming")
	}
}
