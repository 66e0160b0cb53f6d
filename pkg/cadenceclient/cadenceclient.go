// Package cadenceclient connects to the Cadence frontend over gRPC and manages the
// per-tenant domains.
package cadenceclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	apiv1 "github.com/uber/cadence-idl/go/proto/api/v1"
	"go.uber.org/cadence/.gen/go/cadence/workflowserviceclient"
	"go.uber.org/cadence/.gen/go/shared"
	"go.uber.org/cadence/compatibility"
	"go.uber.org/yarpc"
	"go.uber.org/yarpc/transport/grpc"

	"github.com/otaplane/ota/pkg/config"
)

const frontendService = "cadence-frontend"

// Conn is an open connection to the Cadence frontend.
type Conn struct {
	Service    workflowserviceclient.Interface
	dispatcher *yarpc.Dispatcher
}

// Dial opens the gRPC connection; it does not wait for the server (see WaitReady).
func Dial(cfg config.Cadence, caller string) (*Conn, error) {
	d := yarpc.NewDispatcher(yarpc.Config{
		Name: caller,
		Outbounds: yarpc.Outbounds{
			frontendService: {Unary: grpc.NewTransport().NewSingleOutbound(cfg.Address())},
		},
	})
	if err := d.Start(); err != nil {
		return nil, fmt.Errorf("cadence: start dispatcher for %s: %w", cfg.Address(), err)
	}
	cc := d.ClientConfig(frontendService)
	svc := compatibility.NewThrift2ProtoAdapter(
		apiv1.NewDomainAPIYARPCClient(cc),
		apiv1.NewWorkflowAPIYARPCClient(cc),
		apiv1.NewWorkerAPIYARPCClient(cc),
		apiv1.NewVisibilityAPIYARPCClient(cc),
	)
	return &Conn{Service: svc, dispatcher: d}, nil
}

// Close stops the dispatcher.
func (c *Conn) Close() error { return c.dispatcher.Stop() }

// systemDomain always exists on a running cluster: describing it is a cheap health check.
const systemDomain = "cadence-system"

// Ping checks that the frontend answers.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.Service.DescribeDomain(ctx, &shared.DescribeDomainRequest{Name: ptr(systemDomain)})
	if err != nil {
		return fmt.Errorf("cadence: describe %s: %w", systemDomain, err)
	}
	return nil
}

// WaitReady pings until the frontend answers or timeout passes.
func (c *Conn) WaitReady(ctx context.Context, timeout, rpcTimeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		err := c.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cadence frontend not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// DomainName is the tenant-scoped Cadence domain.
func DomainName(prefix, tenantID string) string { return prefix + tenantID }

// RegisterDomain creates the domain; an existing domain counts as success.
func (c *Conn) RegisterDomain(ctx context.Context, name, description string, retention time.Duration) error {
	days := int32(retention / (24 * time.Hour))
	err := c.Service.RegisterDomain(ctx, &shared.RegisterDomainRequest{
		Name:                                   ptr(name),
		Description:                            ptr(description),
		WorkflowExecutionRetentionPeriodInDays: &days,
		EmitMetric:                             ptr(true),
	})
	var exists *shared.DomainAlreadyExistsError
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("cadence: register domain %s: %w", name, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
