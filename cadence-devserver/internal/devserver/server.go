package devserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uber/cadence/common/archiver"
	"github.com/uber/cadence/common/archiver/provider"
	"github.com/uber/cadence/common/clock"
	"github.com/uber/cadence/common/cluster"
	"github.com/uber/cadence/common/config"
	"github.com/uber/cadence/common/domain"
	"github.com/uber/cadence/common/dynamicconfig"
	"github.com/uber/cadence/common/dynamicconfig/dynamicproperties"
	"github.com/uber/cadence/common/log"
	"github.com/uber/cadence/common/metrics"
	"github.com/uber/cadence/common/persistence"
	persistenceclient "github.com/uber/cadence/common/persistence/client"
	"github.com/uber/cadence/common/service"
	"github.com/uber/cadence/common/types"
	"github.com/uber/cadence/host"
	"go.uber.org/zap"
)

const (
	clusterName = "cluster0"
	// SystemDomain is created by the host before the services start; the
	// frontend answering DescribeDomain for it means the server is usable.
	SystemDomain = "cadence-system"

	readyTimeout = 2 * time.Minute
)

// ErrStopTimeout means the services did not shut down in time.
var ErrStopTimeout = errors.New("cadence did not stop in time")

// Server is one in-process Cadence cluster.
type Server struct {
	opts    Options
	logger  log.Logger
	zap     *zap.Logger
	factory persistenceclient.Factory
	cadence host.Cadence
}

// New validates opts and builds the logger; nothing is started yet.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	zl, err := (&config.Logger{Level: strings.ToLower(opts.LogLevel), Encoding: "console"}).NewZapLogger()
	if err != nil {
		return nil, err
	}
	return &Server{opts: opts, logger: log.NewLogger(zl), zap: zl}, nil
}

// Start brings up persistence and all four services, then blocks until the
// frontend serves requests or ctx ends. On error the caller should still call
// Stop.
func (s *Server) Start(ctx context.Context) error {
	if err := CheckPorts(s.opts.Cluster); err != nil {
		return err
	}
	pcfg, err := s.preparePersistence(ctx)
	if err != nil {
		return fmt.Errorf("persistence: %w", err)
	}

	metricsClient := metrics.NewNoopMetricsClient()
	dynamicClient := newDynamicClient()
	// NewDynamicConfiguration fills every func field; nil ones panic later.
	pdc := persistence.NewDynamicConfiguration(dynamicconfig.NewCollection(dynamicClient, s.logger))
	s.factory = persistenceclient.NewFactory(&pcfg, nil, clusterName, metricsClient, s.logger, pdc)

	if s.opts.Persistence != PersistenceMemory {
		if err := checkShards(ctx, s.factory, s.opts.Shards); err != nil {
			return err
		}
	}

	domainMgr, err := s.factory.NewDomainManager()
	if err != nil {
		return fmt.Errorf("domain manager: %w", err)
	}
	historyMgr, err := s.factory.NewHistoryManager()
	if err != nil {
		return fmt.Errorf("history manager: %w", err)
	}
	queueMgr, err := s.factory.NewDomainReplicationQueueManager()
	if err != nil {
		return fmt.Errorf("domain replication queue: %w", err)
	}
	auditMgr, err := s.factory.NewDomainAuditManager()
	if err != nil {
		return fmt.Errorf("domain audit manager: %w", err)
	}

	clusterMetadata := cluster.NewMetadata(
		config.ClusterGroupMetadata{
			FailoverVersionIncrement: 10,
			PrimaryClusterName:       clusterName,
			CurrentClusterName:       clusterName,
			ClusterGroup: map[string]config.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 0,
					RPCName:                service.Frontend,
					RPCAddress:             FrontendGRPCAddr(s.opts.Cluster),
					RPCTransport:           "grpc",
				},
			},
		},
		func(string) bool { return false },
		metricsClient,
		s.logger,
	)

	timeSource := clock.NewRealTimeSource()
	s.cadence = host.NewCadence(&host.CadenceParams{
		ClusterMetadata:        clusterMetadata,
		PersistenceConfig:      pcfg,
		DomainManager:          domainMgr,
		HistoryV2Mgr:           historyMgr,
		ExecutionMgrFactory:    s.factory,
		DomainReplicationQueue: domain.NewReplicationQueue(queueMgr, clusterName, metricsClient, s.logger),
		DomainReplicationTaskExecutor: domain.NewReplicationTaskExecutor(
			domainMgr, auditMgr, timeSource, s.logger, dynamicproperties.GetBoolPropertyFn(false)),
		Logger:    s.logger,
		ClusterNo: s.opts.Cluster,
		ArchiverMetadata: archiver.NewArchivalMetadata(
			dynamicconfig.NewNopCollection(), "", false, "", false, &config.ArchivalDomainDefaults{}),
		ArchiverProvider: provider.NewNoOpArchiverProvider(),
		HistoryConfig:    &host.HistoryConfig{NumHistoryShards: s.opts.Shards, NumHistoryHosts: 1},
		MatchingConfig:   &host.MatchingConfig{NumMatchingHosts: 1},
		// The worker service runs the system workflows that DescribeCluster
		// and Cadence Web's lists depend on; the archiver flag is what
		// enables it in the onebox.
		WorkerConfig: &host.WorkerConfig{EnableArchiver: true},
		AuthorizationConfig: config.Authorization{
			NoopAuthorizer: config.NoopAuthorizer{Enable: true},
		},
		TimeSource:              timeSource,
		DynamicClient:           dynamicClient,
		FrontendDynCfgOverrides: dynamicOverrides(),
		HistoryDynCfgOverrides:  dynamicOverrides(),
		MatchingDynCfgOverrides: dynamicOverrides(),
		WorkerDynCfgOverrides:   dynamicOverrides(),
	})
	if err := s.cadence.Start(); err != nil {
		return fmt.Errorf("start cadence: %w", err)
	}
	return s.waitReady(ctx)
}

// dynamicOverrides undoes onebox test settings that make no sense for a dev
// server. Values must have the exact Go type of the key (time.Duration for
// duration keys), otherwise the override is silently ignored.
func dynamicOverrides() map[dynamicproperties.Key]interface{} {
	return map[dynamicproperties.Key]interface{}{
		dynamicproperties.FrontendWarmupDuration: time.Duration(0),
		// The onebox forces 3 partitions per task list; a single-host dev
		// server needs one, and with few pollers extra partitions only add
		// forwarding latency.
		dynamicproperties.MatchingNumTasklistWritePartitions: 1,
		dynamicproperties.MatchingNumTasklistReadPartitions:  1,
	}
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	name := SystemDomain
	var lastErr error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := s.cadence.GetFrontendClient().DescribeDomain(callCtx, &types.DescribeDomainRequest{Name: &name})
		callCancel()
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("frontend not ready: %w (last error: %v)", ctx.Err(), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop shuts the services down, giving up after timeout: gRPC graceful stop
// can hang while long polls are open.
func (s *Server) Stop(timeout time.Duration) error {
	defer s.zap.Sync() //nolint:errcheck
	if s.cadence == nil {
		if s.factory != nil {
			s.factory.Close()
		}
		return nil
	}
	done := make(chan struct{})
	go func() {
		s.cadence.Stop()
		s.factory.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return ErrStopTimeout
	}
}
