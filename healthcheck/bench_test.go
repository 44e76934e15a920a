//go:build linux

package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkCheck measures one whole check of a large HAProxy: parsing the
// "show info;show stat" answer and evaluating every frontend and backend, as
// the tracker's loop does (no socket: the answer is in memory). The daemon
// runs with one P, so run it that way (cpu-ms/op is the process's CPU time
// per check, which other load on the machine does not inflate):
//
//	GOMAXPROCS=1 go test ./healthcheck -run '^$' -bench Check -benchmem
//
// Measured on a loaded 2-core VM at 10,000 servers: about 130 ms of CPU per
// check before the rows were indexed per check, 35 ms with the index and
// encoding/csv, 8-12 ms with parseStat; the whole check through a unix
// socket (BenchmarkCheckSocket) costs a little more.
//
// The default interval is 200 ms; a check must take a small part of it.
func BenchmarkCheck(b *testing.B) {
	for _, size := range []struct{ frontends, backends, servers int }{
		{100, 500, 4},   // 2,000 servers
		{250, 2500, 4},  // 10,000 servers
		{500, 10000, 4}, // 40,000 servers
	} {
		name := fmt.Sprintf("%dx%d", size.backends, size.servers)
		b.Run(name, func(b *testing.B) {
			answer, used := bigAnswer(size.frontends, size.backends, size.servers)
			b.SetBytes(int64(len(answer)))
			tr, err := New(Config{HAProxy: HAProxyConfig{Socket: "/run/haproxy/admin.sock"}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			tr.usage = func(int) (backendUsage, error) { return backendUsage{Used: used}, nil }
			l := loop{t: tr, rt: answerRuntime(answer), hyst: NewHysteresis(1, 1)}
			checks, _ := l.check(context.Background())
			if want := 2 + size.frontends + size.backends; len(checks) != want || !allOK(checks) {
				b.Fatalf("%d checks (want %d), all OK %v: %s", len(checks), want, allOK(checks), reasonOf(checks))
			}
			cpu := cpuTime(b)
			for b.Loop() {
				l.check(context.Background())
			}
			// CPU time, unlike ns/op, does not grow when other processes
			// compete for the machine's cores.
			b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkCheckSocket is BenchmarkCheck at 10,000 servers with the answer
// read from a unix socket, as from HAProxy (the fake server's writes run in
// this process and count in cpu-ms/op).
func BenchmarkCheckSocket(b *testing.B) {
	answer, used := bigAnswer(250, 2500, 4)
	path := filepath.Join(b.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, answer)
			}()
		}
	}()
	b.SetBytes(int64(len(answer)))
	tr, err := New(Config{HAProxy: HAProxyConfig{Socket: path}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tr.usage = func(int) (backendUsage, error) { return backendUsage{Used: used}, nil }
	l := loop{t: tr, rt: newSocketRuntime(path, time.Second), hyst: NewHysteresis(1, 1)}
	if checks, _ := l.check(context.Background()); !allOK(checks) {
		b.Fatalf("check failed: %s", reasonOf(checks))
	}
	cpu := cpuTime(b)
	for b.Loop() {
		l.check(context.Background())
	}
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// answerRuntime is a runtimeAPI that parses a fixed answer.
type answerRuntime string

func (a answerRuntime) state(context.Context) (runtimeState, error) { return parseInfoStat(string(a)) }
func (a answerRuntime) close()                                      {}

// bigAnswer builds an HAProxy 2.6 answer to "show info;show stat" with the
// given number of frontends, backends and servers per backend, every server
// UP, from the rows of testdata/info-stat-healthy.txt (real column count and
// line lengths). Frontend i uses backends i, i+frontends, ...; used lists
// them all.
func bigAnswer(frontends, backends, servers int) (answer string, used []string) {
	const (
		info     = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 28490\nUptime_sec: 2\n\n"
		header   = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n"
		frontend = ",FRONTEND,,,0,0,9983,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,0,0,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,,,0,0,0,0,0,0,0,0,0,0,\n"
		server   = ",0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,3,0,,1,5,1,,0,,2,0,,0,L7OK,200,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,1,1,1,,,,127.0.0.1:18081,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
		backend  = ",BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,4,4,0,,0,3,0,,1,5,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,4,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,,,0,0,0,0,0,0,0,0,0,0,\n"
	)
	var w strings.Builder
	w.WriteString(info)
	w.WriteString(header)
	for f := range frontends {
		fmt.Fprintf(&w, "fe_%d%s", f, frontend)
	}
	for be := range backends {
		name := fmt.Sprintf("be_%d", be)
		used = append(used, name)
		for s := range servers {
			fmt.Fprintf(&w, "%s,srv%d%s", name, s, server)
		}
		w.WriteString(name + backend)
	}
	w.WriteString("\n")
	return w.String(), used
}
