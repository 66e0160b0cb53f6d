package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otaplane/ota/otactl/internal/apiclient"
)

func (e *env) firmwareCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "firmware", Short: "Firmware images: upload, list, show, download"}
	cmd.AddCommand(e.firmwareUpload(), e.firmwareList(), e.firmwareGet(), e.firmwareDownload())
	return cmd
}

func (e *env) firmwareUpload() *cobra.Command {
	var version, model, expect, signature string
	var counter int64
	var quiet bool
	cmd := &cobra.Command{
		Use:   "upload FILE",
		Short: "Upload an image; its sha256 is computed here, shown and checked against the server's",
		Long: `Upload an image. otactl computes the image's sha256 before sending it, refuses to send it
if --sha256 names another, and fails if the server stored something else.
For a tenant whose release key is offline, pass --release-counter and --signature.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, size, err := fileSHA256(args[0])
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			if expect != "" && !strings.EqualFold(expect, sum) {
				return &exitError{code: exitFailed, msg: fmt.Sprintf("%s has sha256 %s, not the expected %s; nothing uploaded",
					args[0], sum, expect)}
			}
			form := map[string]string{"version": version, "hardware_model": model}
			if cmd.Flags().Changed("release-counter") {
				form["release_counter"] = strconv.FormatInt(counter, 10)
			}
			if signature != "" {
				form["signature"] = signature
			}
			body, contentType := multipartFile(args[0], form)
			var fw firmware
			err = e.call(cmd, apiclient.Request{Op: "uploadFirmware", Body: body, ContentType: contentType}, &fw, func() {
				if quiet {
					fmt.Fprintln(e.stdout, fw.ID)
					return
				}
				fields(e.stdout, "id", fw.ID, "version", fw.Version, "hardware model", fw.HardwareModel,
					"size", fmt.Sprintf("%d bytes", fw.SizeBytes), "sha256", fw.SHA256)
			})
			if err != nil {
				return err
			}
			if fw.SHA256 != sum || fw.SizeBytes != size {
				return &exitError{code: exitFailed, msg: fmt.Sprintf("the server stored %d bytes with sha256 %s; sent %d bytes with sha256 %s",
					fw.SizeBytes, fw.SHA256, size, sum)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "firmware version (required)")
	f.StringVar(&model, "model", "", "hardware model it is for (required)")
	f.StringVar(&expect, "sha256", "", "refuse to upload unless the file has this sha256")
	f.Int64Var(&counter, "release-counter", 0, "release counter (offline release key)")
	f.StringVar(&signature, "signature", "", "detached Ed25519 signature of the release, base64 (offline release key)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the new firmware's id (for scripts)")
	_ = cmd.MarkFlagRequired("version")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// multipartFile streams the form with the file as its "file" part, without holding
// the image in memory.
func multipartFile(path string, form map[string]string) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeForm(mw, path, form))
	}()
	return pr, mw.FormDataContentType()
}

func writeForm(mw *multipart.Writer, path string, form map[string]string) error {
	for k, v := range form {
		if err := mw.WriteField(k, v); err != nil {
			return err
		}
	}
	part, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(part, f); err != nil {
		return err
	}
	return mw.Close()
}

func (e *env) firmwareList() *cobra.Command {
	var p pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Firmware",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(e, cmd, p, "listFirmware", nil, "firmware", e.firmwareTable)
		},
	}
	p.add(cmd)
	return cmd
}

func (e *env) firmwareTable(fws []firmware) {
	rows := make([][]string, len(fws))
	for i, f := range fws {
		rows[i] = []string{f.ID, f.Version, f.HardwareModel, fmt.Sprint(f.SizeBytes), f.SHA256, f.CreatedAt.UTC().Format(time.RFC3339)}
	}
	table(e.stdout, []string{"ID", "VERSION", "MODEL", "BYTES", "SHA256", "CREATED"}, rows)
}

func (e *env) firmwareGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "One firmware",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var fw firmware
			return e.call(cmd, apiclient.Request{Op: "getFirmware", Path: map[string]string{"id": args[0]}}, &fw,
				func() { e.firmwareTable([]firmware{fw}) })
		},
	}
}

func (e *env) firmwareDownload() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "download ID",
		Short: "Download an image to a file (--out), checking its sha256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.needKey(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			body, header, err := c.Stream(cmd.Context(), apiclient.Request{Op: "downloadFirmware", Path: map[string]string{"id": args[0]}})
			if err != nil {
				return err
			}
			defer body.Close()
			f, err := os.Create(out)
			if err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(f, h), body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("download: %w", err)
			}
			sum := hex.EncodeToString(h.Sum(nil))
			if want := header.Get("X-Checksum-Sha256"); want != "" && want != sum {
				return &exitError{code: exitFailed, msg: fmt.Sprintf("downloaded %d bytes with sha256 %s; the server says %s", n, sum, want)}
			}
			fmt.Fprintf(e.stdout, "%s: %d bytes, sha256 %s\n", out, n, sum)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
