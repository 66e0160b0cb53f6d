package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/otaplane/ota/pkg/model"
	"github.com/otaplane/ota/pkg/store"
)

// chunkSize bounds the memory one download or upload holds at a time.
const chunkSize = 1 << 20

type firmwareRow struct {
	ID               string
	TenantID         string
	Version          string
	HardwareModel    string
	Sha256           string
	SizeBytes        int64
	ReleaseCounter   *int64
	ReleaseSignature []byte
	ReleaseKeyID     *string
	CreatedAt        time.Time
}

func (r firmwareRow) model() model.Firmware {
	fw := model.Firmware{ID: r.ID, TenantID: r.TenantID, Version: r.Version, HardwareModel: r.HardwareModel,
		SHA256: r.Sha256, SizeBytes: r.SizeBytes, ReleaseSignature: r.ReleaseSignature, CreatedAt: r.CreatedAt}
	if r.ReleaseCounter != nil {
		fw.ReleaseCounter = *r.ReleaseCounter
	}
	if r.ReleaseKeyID != nil {
		fw.ReleaseKeyID = *r.ReleaseKeyID
	}
	return fw
}

const firmwareColumns = `id, tenant_id, version, hardware_model, sha256, size_bytes,
	release_counter, release_signature, release_key_id, created_at`

// lockReleaseOrder serializes, until tx ends, everything that hands out release counters
// for one tenant's hardware model, and returns the highest counter handed out so far (0
// when none).
func lockReleaseOrder(tx *gorm.DB, tenantID, hardwareModel string) (int64, error) {
	if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('firmware-release/' || ? || '/' || ?, 0))`,
		tenantID, hardwareModel).Error; err != nil {
		return 0, classify(err)
	}
	var highest int64
	if err := tx.Raw(`SELECT COALESCE(max(release_counter), 0) FROM firmware WHERE tenant_id = ? AND hardware_model = ?`,
		tenantID, hardwareModel).Row().Scan(&highest); err != nil {
		return 0, classify(err)
	}
	return highest, nil
}

// CreateFirmware implements store.Store: metadata, release and every chunk commit
// together, the release decided while no other upload of the model can be.
func (s *Store) CreateFirmware(ctx context.Context, fw model.Firmware, image io.Reader, release store.ReleaseFunc) (model.Firmware, error) {
	var out model.Firmware
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		highest, err := lockReleaseOrder(tx, fw.TenantID, fw.HardwareModel)
		if err != nil {
			return err
		}
		rel, err := release(highest)
		if err != nil {
			return err
		}
		if rel.Counter <= highest {
			return fmt.Errorf("release counter %d does not exceed %d", rel.Counter, highest)
		}
		var rows []firmwareRow
		if err := tx.Raw(`INSERT INTO firmware (id, tenant_id, version, hardware_model, sha256, size_bytes,
				release_counter, release_signature, release_key_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+firmwareColumns,
			fw.ID, fw.TenantID, fw.Version, fw.HardwareModel, fw.SHA256, fw.SizeBytes,
			rel.Counter, rel.Signature, rel.KeyID).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		out = rows[0].model()
		buf := make([]byte, chunkSize)
		var written int64
		for seq := 0; ; seq++ {
			n, err := io.ReadFull(image, buf)
			if n > 0 {
				if err := tx.Exec(`INSERT INTO firmware_chunks (firmware_id, seq, data) VALUES (?, ?, ?)`,
					fw.ID, seq, buf[:n]).Error; err != nil {
					return classify(err)
				}
				written += int64(n)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read image: %w", err)
			}
		}
		if written != fw.SizeBytes {
			return fmt.Errorf("image is %d bytes, metadata says %d", written, fw.SizeBytes)
		}
		return nil
	})
	if err != nil {
		return model.Firmware{}, fmt.Errorf("create firmware %s: %w", fw.Version, err)
	}
	return out, nil
}

// GetFirmware implements store.Store.
func (s *Store) GetFirmware(ctx context.Context, tenantID, firmwareID string) (model.Firmware, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []firmwareRow
	if err := s.conn(ctx).Raw(`SELECT `+firmwareColumns+` FROM firmware WHERE tenant_id = ? AND id = ?`,
		tenantID, firmwareID).Scan(&rows).Error; err != nil {
		return model.Firmware{}, fmt.Errorf("get firmware %s: %w", firmwareID, classify(err))
	}
	if len(rows) == 0 {
		return model.Firmware{}, fmt.Errorf("get firmware %s: %w", firmwareID, classify(gorm.ErrRecordNotFound))
	}
	return rows[0].model(), nil
}

// AssignReleases gives every image of the model that has no release yet (one uploaded
// before signing) its release, in version order after the model's highest counter;
// sign makes the release for an image and the counter it gets.
func (s *Store) AssignReleases(ctx context.Context, tenantID, hardwareModel string,
	sign func(fw model.Firmware, counter int64) (model.Release, error)) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		highest, err := lockReleaseOrder(tx, tenantID, hardwareModel)
		if err != nil {
			return err
		}
		var rows []firmwareRow
		if err := tx.Raw(`SELECT `+firmwareColumns+` FROM firmware
			WHERE tenant_id = ? AND hardware_model = ? AND release_counter IS NULL`,
			tenantID, hardwareModel).Scan(&rows).Error; err != nil {
			return classify(err)
		}
		slices.SortFunc(rows, func(a, b firmwareRow) int { return model.CompareVersions(a.Version, b.Version) })
		for i, r := range rows {
			rel, err := sign(r.model(), highest+int64(i)+1)
			if err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE firmware SET release_counter = ?, release_signature = ?, release_key_id = ?
				WHERE id = ?`, rel.Counter, rel.Signature, rel.KeyID, r.ID).Error; err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("assign releases of %s: %w", hardwareModel, err)
	}
	return nil
}

// ListFirmware implements store.Store (newest first is not stable under paging: order by id).
func (s *Store) ListFirmware(ctx context.Context, tenantID string, p store.Page) ([]model.Firmware, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var rows []firmwareRow
	after := p.After
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	if err := s.conn(ctx).Raw(`SELECT `+firmwareColumns+` FROM firmware WHERE tenant_id = ? AND id > ?::uuid
		ORDER BY id LIMIT ?`, tenantID, after, p.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list firmware: %w", classify(err))
	}
	out := make([]model.Firmware, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// OpenFirmware implements store.Store.
func (s *Store) OpenFirmware(ctx context.Context, fw model.Firmware) (io.ReadSeekCloser, error) {
	return &chunkReader{ctx: ctx, s: s, id: fw.ID, size: fw.SizeBytes, chunk: -1}, nil
}

// chunkReader reads an image one chunk (one short query) at a time, so a slow download
// holds no transaction and at most one chunk of memory.
type chunkReader struct {
	ctx   context.Context
	s     *Store
	id    string
	size  int64
	off   int64
	chunk int
	data  []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	want := int(r.off / chunkSize)
	if want != r.chunk {
		ctx, cancel := r.s.timeout(r.ctx)
		var data [][]byte
		err := r.s.conn(ctx).Raw(`SELECT data FROM firmware_chunks WHERE firmware_id = ? AND seq = ?`,
			r.id, want).Pluck("data", &data).Error
		cancel()
		if err != nil {
			return 0, fmt.Errorf("firmware %s chunk %d: %w", r.id, want, classify(err))
		}
		if len(data) == 0 {
			return 0, fmt.Errorf("firmware %s chunk %d: %w", r.id, want, io.ErrUnexpectedEOF)
		}
		r.chunk, r.data = want, data[0]
	}
	n := copy(p, r.data[r.off-int64(r.chunk)*chunkSize:])
	r.off += int64(n)
	return n, nil
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek: negative position %d", abs)
	}
	r.off = abs
	return abs, nil
}

func (r *chunkReader) Close() error { return nil }
