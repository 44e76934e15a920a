package probe

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

func echo(t *testing.T, typ icmp.Type, id, seq int, data []byte) []byte {
	t.Helper()
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func payload(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), icmpMagic...), n)
}

func TestParseEchoReply(t *testing.T) {
	const id = 0x1234
	big := uint64(70000) // past the 16-bit sequence number
	for _, tc := range []struct {
		name   string
		msg    []byte
		want   uint64
		wantOK bool
	}{
		{"ours", echo(t, ipv4.ICMPTypeEchoReply, id, 7, payload(7)), 7, true},
		{"ours, seq wrapped", echo(t, ipv4.ICMPTypeEchoReply, id, int(big&0xffff), payload(big)), big, true},
		{"a request, not a reply", echo(t, ipv4.ICMPTypeEcho, id, 7, payload(7)), 0, false},
		{"another identifier", echo(t, ipv4.ICMPTypeEchoReply, id+1, 7, payload(7)), 0, false},
		{"someone else's payload", echo(t, ipv4.ICMPTypeEchoReply, id, 7, []byte("abcdefghijklmn")), 0, false},
		{"seq disagrees with payload", echo(t, ipv4.ICMPTypeEchoReply, id, 8, payload(7)), 0, false},
		{"garbage", []byte{0, 0}, 0, false},
	} {
		got, ok := parseEchoReply(tc.msg, id)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: parseEchoReply = %d, %t; want %d, %t", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
