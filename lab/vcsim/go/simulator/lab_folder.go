package simulator

// Datastore file access for the migration lab.
//
// vCenter serves datastore files at /folder/<path>?dcPath=<dc>&dsName=<ds> only to an
// authenticated client; the agent's https disk source sends the vmware_soap_session cookie of
// its own vSphere API session. Stock vcsim serves /folder to anyone, so here a request without
// the cookie of a live session is answered 401 the way vCenter does.

import (
	"net/http"

	"github.com/vmware/govmomi/vim25/soap"
)

func labFolderAuthorized(s *Service, w http.ResponseWriter, r *http.Request) bool {
	if cookie, err := r.Cookie(soap.SessionCookieName); err == nil {
		if _, ok := s.sm.getSession(cookie.Value); ok {
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
	w.WriteHeader(http.StatusUnauthorized)
	return false
}
