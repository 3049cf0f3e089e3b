// Command vcsim runs govmomi's vCenter simulator for the migration platform's lab.
//
// Debian's golang-github-vmware-govmomi-dev ships the simulator library but not
// the upstream vcsim command, so this is our own small front end around
// simulator.Model. It speaks the same first line as upstream vcsim
// ("export GOVC_URL=... GOVC_SIM_PID=...") so tooling written for upstream keeps
// working, and adds what the lab needs: strict credentials, and an option to
// exit when stdin closes so a crashed test runner never leaves a simulator
// behind.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := simulator.VPX()

	listen := flag.String("l", "127.0.0.1:8989", "listen address (port 0 picks a free port)")
	username := flag.String("username", "user", "login user name (checked exactly)")
	password := flag.String("password", "pass", "login password (checked exactly)")
	useTLS := flag.Bool("tls", true, "serve https")
	certFile := flag.String("tlscert", "", "PEM certificate to serve (default: a fresh self-signed one)")
	keyFile := flag.String("tlskey", "", "PEM private key of -tlscert")
	trace := flag.Bool("trace", false, "write SOAP traffic to stderr")
	stdinWatch := flag.Bool("exit-on-stdin-eof", false, "shut down when stdin reaches EOF (the parent went away)")
	quiet := flag.Bool("quiet", false, "discard the simulator's request log")

	flag.IntVar(&model.Datacenter, "dc", 1, "number of datacenters")
	flag.IntVar(&model.Cluster, "cluster", 0, "number of clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", 3, "number of hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", 1, "number of standalone hosts per datacenter")
	flag.IntVar(&model.Machine, "vm", 2, "number of VMs per resource pool (each standalone host and each cluster has one)")
	flag.IntVar(&model.Datastore, "ds", 1, "number of local datastores (directories under $TMPDIR)")
	flag.IntVar(&model.Portgroup, "pg", 1, "number of distributed port groups per datacenter")
	flag.IntVar(&model.Pool, "pool", 0, "number of child resource pools per cluster")
	flag.IntVar(&model.Folder, "folder", 0, "number of datacenters placed inside a folder")
	flag.BoolVar(&model.Autostart, "autostart", true, "power on the VMs the model creates")
	flag.IntVar(&model.DelayConfig.Delay, "delay", 0, "milliseconds to delay every SOAP call")
	flag.DurationVar(&simulator.SessionIdleTimeout, "session-idle-timeout", 0, "log out sessions idle this long (0: never), to exercise re-login")
	flag.Parse()

	if *quiet {
		log.SetOutput(ioutil.Discard)
	}
	simulator.Trace = *trace

	// Subscribe before anything is printed: a launcher that reads the URL line
	// may signal us immediately, and an unhandled SIGTERM would skip cleanup of
	// the datastore directories.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	start := time.Now()
	if err := model.Create(); err != nil {
		log.SetOutput(os.Stderr)
		log.Fatalf("creating the inventory: %s", err)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	if *useTLS {
		cert, err := serverCertificate(*certFile, *keyFile, *listen)
		if err != nil {
			log.SetOutput(os.Stderr)
			log.Fatalf("TLS certificate: %s", err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}

	server := model.Service.NewServer()

	fmt.Printf("export GOVC_URL=%s GOVC_SIM_PID=%d\n", server.URL, os.Getpid())
	count := model.Count()
	fmt.Fprintf(os.Stderr, "vcsim: inventory ready in %s: %d datacenter(s), %d host(s), %d VM(s), %d datastore(s)\n",
		time.Since(start).Round(time.Millisecond), count.Datacenter, count.Host, count.Machine, count.Datastore)
	_ = os.Stdout.Sync()

	if *stdinWatch {
		go func() {
			_, _ = io.Copy(ioutil.Discard, os.Stdin)
			sig <- syscall.SIGHUP
		}()
	}

	<-sig

	// httptest's Close waits for in-flight requests, and a client parked in
	// WaitForUpdatesEx can hold one open; don't let that keep us alive.
	done := make(chan struct{})
	go func() {
		server.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

// serverCertificate loads the given key pair or makes a self-signed one. The simulator's
// built-in certificate is a fixed 1024-bit RSA test certificate shared by every vcsim: OpenSSL
// refuses to verify it ("key too weak"), and a fixed thumbprint would let a client that ignores
// thumbprints pass tests. A fresh P-256 certificate per run, valid for the listen address, is
// what a real vCenter's self-signed certificate looks like to a client.
func serverCertificate(certFile, keyFile, listen string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ski := sha1.Sum(pub)
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vcsim", Organization: []string{"migration platform lab"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		// Self-signed and its own trust anchor, so clients can trust exactly this certificate.
		IsCA:                  true,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:],
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsLoopback() && !ip.IsUnspecified() {
				template.IPAddresses = append(template.IPAddresses, ip)
			}
		} else if host != "localhost" {
			template.DNSNames = append(template.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
