// Command incident is the service of the incident, unchanged: one request at
// a time, through netutil.LimitListener(l, 1), behind a load balancer that
// keeps connections alive (package oneslot/service has the code).
//
// Nothing in it closes an idle keep-alive connection before ReadTimeout (30s,
// which net/http also uses as the idle timeout when IdleTimeout is zero), so
// one idle connection holds the only slot and every other connection waits in
// the kernel.
package main

import "oneslot/service"

func main() {
	service.Main(service.Options{})
}
