// Command connection-close is the incident's service with the article's
// second fix: the handler answers "Connection: close", so net/http closes the
// connection after the response. Only the handlers that set the header get
// the fix.
package main

import (
	"net/http"

	"oneslot/service"
)

func main() {
	service.Main(service.Options{
		Handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close") // the fix: close after this response
			service.Work(w, r)
		},
	})
}
