package images

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression is the compression of a stream, detected by its magic bytes.
type compression int

const (
	uncompressed compression = iota
	compGzip
	compZstd
	compBzip2
	compXz
)

func (c compression) String() string {
	return [...]string{"uncompressed", "gzip", "zstd", "bzip2", "xz"}[c]
}

// layerMediaType is the OCI media type of a layer blob so compressed.
func (c compression) layerMediaType() types.MediaType {
	switch c {
	case compGzip:
		return types.OCILayer
	case compZstd:
		return types.OCILayerZStd
	default:
		return types.OCIUncompressedLayer
	}
}

func detectCompression(br *bufio.Reader) compression {
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return compGzip
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return compZstd
	case bytes.HasPrefix(magic, []byte("BZh")):
		return compBzip2
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return compXz
	}
	return uncompressed
}

// decompress detects the compression of br and returns a reader of the
// decompressed stream. Only the compressions in allow (besides none) are
// accepted. Decompression errors are of kind errdefs.ErrInvalidArgument.
func decompress(br *bufio.Reader, allow ...compression) (io.ReadCloser, compression, error) {
	c := detectCompression(br)
	if c == uncompressed {
		return io.NopCloser(br), c, nil
	}
	ok := false
	for _, a := range allow {
		ok = ok || a == c
	}
	if !ok {
		return nil, c, refusef("%s-compressed content is not supported here", c)
	}
	switch c {
	case compGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, invalid(fmt.Errorf("gzip: %w", err))
		}
		return &invalidOnError{r: zr, c: zr}, c, nil
	case compZstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, c, invalid(fmt.Errorf("zstd: %w", err))
		}
		return &invalidOnError{r: zr, c: zr.IOReadCloser()}, c, nil
	case compBzip2:
		return &invalidOnError{r: bzip2.NewReader(br), c: io.NopCloser(nil)}, c, nil
	}
	return nil, c, refusef("%s-compressed content is not supported", c)
}

// invalidOnError marks decompression errors as bad input.
type invalidOnError struct {
	r io.Reader
	c io.Closer
}

func (d *invalidOnError) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrDigestMismatch) {
		err = invalid(fmt.Errorf("decompress: %w", err))
	}
	return n, err
}

func (d *invalidOnError) Close() error { return d.c.Close() }
