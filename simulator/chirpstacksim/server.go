package chirpstacksim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/chirpstack/chirpstack/api/go/v4/api"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Server is an in-memory ChirpStack v4 API server. Create it with New, then Start.
type Server struct {
	opts Options
	log  *zap.Logger

	mu          sync.Mutex
	tenants     map[string]*tenantRec
	apps        map[string]*applicationRec
	profiles    map[string]*profileRec
	devices     map[string]*deviceRec
	deployments map[string]*deploymentRec
	faults      map[string]deviceFault // by DevEUI; may precede the device
	down        bool
	failures    map[string]*injectedFailure
	calls       map[string]int
	hooks       []func(devEUI string)
	started     bool
	stopped     bool

	grpc *grpc.Server
	lis  net.Listener
	pub  *publisher
	stop chan struct{}
	wg   sync.WaitGroup
}

type injectedFailure struct {
	remaining int
	code      codes.Code
}

// New returns a Server holding the preconfigured tenant. Options are validated by
// Start.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:        opts,
		log:         opts.Logger.Named("chirpstacksim"),
		tenants:     make(map[string]*tenantRec),
		apps:        make(map[string]*applicationRec),
		profiles:    make(map[string]*profileRec),
		devices:     make(map[string]*deviceRec),
		deployments: make(map[string]*deploymentRec),
		faults:      make(map[string]deviceFault),
		failures:    make(map[string]*injectedFailure),
		calls:       make(map[string]int),
		stop:        make(chan struct{}),
	}
	now := time.Now()
	s.tenants[strings.ToLower(opts.TenantID)] = &tenantRec{
		t: &api.Tenant{
			Id:              strings.ToLower(opts.TenantID),
			Name:            opts.TenantName,
			CanHaveGateways: true,
		},
		createdAt: now,
		updatedAt: now,
	}
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0"), connects the MQTT integration when
// a broker is configured and starts the FUOTA scheduler. A Server starts once.
func (s *Server) Start(addr string) error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.started || s.stopped {
		s.mu.Unlock()
		return errors.New("chirpstacksim: server already started")
	}
	s.started = true
	s.mu.Unlock()

	if s.opts.BrokerURL != "" {
		pub, err := newPublisher(s.opts, s.log)
		if err != nil {
			return err
		}
		s.pub = pub
	}

	lis, err := net.Listen("tcp", addr)
	if err != nil {
		s.pub.close()
		return fmt.Errorf("chirpstacksim: listen on %s: %w", addr, err)
	}
	s.lis = lis
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	api.RegisterTenantServiceServer(s.grpc, &tenantService{s: s})
	api.RegisterApplicationServiceServer(s.grpc, &applicationService{s: s})
	api.RegisterDeviceProfileServiceServer(s.grpc, &deviceProfileService{s: s})
	api.RegisterDeviceServiceServer(s.grpc, &deviceService{s: s})
	api.RegisterFuotaServiceServer(s.grpc, &fuotaService{s: s})

	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc serve", zap.Error(err))
		}
	}()
	go func() {
		defer s.wg.Done()
		s.runScheduler()
	}()
	s.log.Info("chirpstack simulator started",
		zap.String("addr", lis.Addr().String()),
		zap.String("broker", s.opts.BrokerURL),
		zap.Stringer("encoding", s.opts.Encoding))
	return nil
}

// Addr is the listening address (host:port), empty before Start.
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// Stop ends in-flight calls (after a short grace period), the scheduler and the
// MQTT connection. It is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped || !s.started {
		s.stopped = true
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()

	close(s.stop)
	if s.grpc != nil {
		graceful := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(graceful)
		}()
		select {
		case <-graceful:
		case <-time.After(stopGrace):
			s.grpc.Stop()
		}
	}
	s.wg.Wait()
	s.pub.close()
	s.log.Info("chirpstack simulator stopped")
}

// TenantID is the preconfigured tenant's ID.
func (s *Server) TenantID() string { return strings.ToLower(s.opts.TenantID) }

// SetDown makes every call fail with codes.Unavailable while down is true, the
// way clients see an unreachable ChirpStack.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// FailNext makes the next n authenticated calls of method fail with code. method
// is a gRPC method name in any of the forms "/api.DeviceService/Create",
// "api.DeviceService/Create" or "DeviceService/Create"; the generated
// api.*_FullMethodName constants work too. n <= 0 clears the injection.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := methodKey(method)
	if n <= 0 {
		delete(s.failures, key)
		return
	}
	s.failures[key] = &injectedFailure{remaining: n, code: code}
}

// Calls is how many calls of method reached the server (including rejected ones);
// method takes the same forms as in FailNext.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[methodKey(method)]
}

// CallCounts returns all call counters keyed "Service/Method", e.g.
// "DeviceService/Create".
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// OnFUOTAComplete registers fn to run once per device that completes a FUOTA
// deployment without error. Hooks run on the scheduler goroutine after the
// deployment is marked complete, so they may call Publish* but should be short.
func (s *Server) OnFUOTAComplete(fn func(devEUI string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// methodKey normalises the accepted spellings of a method to "Service/Method".
func methodKey(method string) string {
	method = strings.TrimPrefix(method, "/")
	return strings.TrimPrefix(method, "api.")
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.admit(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	resp, err := handler(ctx, req)
	if err != nil {
		s.log.Debug("call failed", zap.String("method", info.FullMethod), zap.Error(err))
	}
	return resp, err
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.admit(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// admit counts the call, then applies in order: the down switch, API-key
// authentication and injected failures.
func (s *Server) admit(ctx context.Context, fullMethod string) error {
	key := methodKey(fullMethod)
	s.mu.Lock()
	s.calls[key]++
	down := s.down
	s.mu.Unlock()
	if down {
		return status.Error(codes.Unavailable, "chirpstacksim: server is down")
	}
	if err := s.authenticate(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.failures[key]; ok {
		f.remaining--
		if f.remaining <= 0 {
			delete(s.failures, key)
		}
		return status.Errorf(f.code, "chirpstacksim: injected failure for %s", key)
	}
	return nil
}

// authenticate checks the bearer token the way ChirpStack checks API keys.
func (s *Server) authenticate(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return status.Error(codes.Unauthenticated, "authorization header missing")
	}
	token, ok := strings.CutPrefix(values[0], "Bearer ")
	if !ok {
		return status.Error(codes.Unauthenticated, "authorization header must use the Bearer scheme")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.APIToken)) != 1 {
		return status.Error(codes.Unauthenticated, "invalid API token")
	}
	return nil
}
