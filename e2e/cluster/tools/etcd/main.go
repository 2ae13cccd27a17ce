// Command etcd is etcd's own server entry point (go.etcd.io/etcd/server/v3/etcdmain), built from
// its Go modules. Upstream's main module (go.etcd.io/etcd/v3) cannot be `go install`ed because its
// go.mod carries replace directives; this wrapper calls the same function its main.go calls.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
