package logfile

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sizes that bound what a Pager holds, whatever the size of the log.
const (
	// MaxLineLen is the longest text a Pager returns for one line; the
	// rest of a longer line is dropped (Line.Cut).
	MaxLineLen = 64 << 10
	// pageBlock is the read size when paging; searchBlock when scanning.
	pageBlock   = 64 << 10
	searchBlock = 1 << 20
	// maxEntryLen is the longest JSON line the Pager decodes; a longer one
	// (which no Writer with rotation produces) is skipped like a corrupt one.
	maxEntryLen = 16 << 20
	// pageBudget ends Before and After early once the lines they return
	// hold this much text, so that a page of huge lines stays small.
	pageBudget = 1 << 20
)

// Pos is where a display line starts: a file of the log's set, the offset
// of an entry in it, and how many lines of that entry come first. Files are
// numbered as the log's rotation index numbers them (or, without one, from
// the oldest seen since the Pager opened, from 1), so a position survives
// rotation. The zero Pos is before everything.
type Pos struct {
	file  int64
	off   int64
	piece int
}

// Compare orders positions: -1 if p comes before q, 0 if equal, +1 after.
func (p Pos) Compare(q Pos) int {
	if c := cmp.Compare(p.file, q.file); c != 0 {
		return c
	}
	if c := cmp.Compare(p.off, q.off); c != 0 {
		return c
	}
	return cmp.Compare(p.piece, q.piece)
}

// String shows a position for messages and tests.
func (p Pos) String() string { return fmt.Sprintf("%d:%d.%d", p.file, p.off, p.piece) }

// Line is one display line: one '\n'-terminated piece of output, joined
// across entries when a chunk ended mid-line.
type Line struct {
	Pos  Pos // where it starts
	Next Pos // where the line after it starts (or would)
	// Stream and Time are those of the entry the line starts in.
	Stream string
	Time   time.Time
	// Text is the line without its '\n', at most MaxLineLen bytes.
	Text []byte
	// Cut reports that Text is the start of a longer line.
	Cut bool
	// Partial reports that the log ends inside this line: the writer has
	// not finished it yet, and it may grow.
	Partial bool
	// Lost makes the Line a marker rather than output: what followed Pos
	// was rotated away before it could be read; the log goes on at Next.
	// Text is empty.
	Lost bool
}

// Pager reads a log and its rotated files by position, for a viewer: pages
// of lines before or after a position, and searches. It holds the files
// open (so a rotation does not pull them away) and reads them with pread,
// never the whole log: memory is bounded by MaxLineLen and the longest
// entry. A Pager is safe for concurrent use: a search may run while pages
// are read and Refresh looks for new output.
//
// What a Pager shows is the log as of its opening or its last Refresh; an
// incomplete last entry (the writer is in the middle of it) is left out
// until it is complete.
type Pager struct {
	path string

	// refreshMu serialises Refresh; mu guards the fields below and the
	// files' ends, and is never held across I/O.
	refreshMu sync.Mutex
	mu        sync.Mutex
	files     []*pagerFile // oldest first
	nextSeq   int64
	closed    bool
	// gone is the newest file rotation took from the set, and where it
	// ended: a position there, at its end, continues in the set without
	// a loss if the set starts with the file after it.
	gone struct{ seq, end int64 }
}

// pagerFile is one file of the set.
type pagerFile struct {
	f   *os.File
	fi  os.FileInfo
	seq int64
	end int64 // just past the last complete entry (written under Pager.mu)
	// refs counts the set's hold plus one per operation using the file;
	// the last release closes it.
	refs atomic.Int32
}

func (pf *pagerFile) release() {
	if pf.refs.Add(-1) == 0 {
		pf.f.Close()
	}
}

// OpenPager opens the log at path and its rotated files (path.1 ...).
// A missing log is reported as errdefs.ErrNotFound (and fs.ErrNotExist).
func OpenPager(path string) (*Pager, error) {
	list, err := openLogFiles(path)
	if err != nil {
		return nil, err
	}
	p := &Pager{path: path, nextSeq: 1}
	for i, lf := range list {
		end, err := completeEnd(lf.f)
		if err != nil {
			for _, rest := range list[i:] {
				rest.f.Close()
			}
			p.Close()
			return nil, fmt.Errorf("open log %s: %w", path, err)
		}
		p.files = append(p.files, p.newFile(lf, end))
	}
	return p, nil
}

// newFile adds lf to the set, numbered as the rotation index numbers it
// if it can be (newer than every file seen), else by the Pager's count.
func (p *Pager) newFile(lf *logFile, end int64) *pagerFile {
	seq := p.nextSeq
	if lf.seq >= seq {
		seq = lf.seq
	}
	pf := &pagerFile{f: lf.f, fi: lf.fi, seq: seq, end: end}
	pf.refs.Store(1)
	p.nextSeq = seq + 1
	return pf
}

// Path is the log's path.
func (p *Pager) Path() string { return p.path }

// Close closes the files once the operations in flight are done with them;
// operations started later fail.
func (p *Pager) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for _, pf := range p.files {
		pf.release()
	}
	p.files = nil
	return nil
}

// Refresh looks at the log again: output appended to the current file, or a
// rotation (path replaced: the set is listed again, files kept open stay
// where they were in the order, new ones come after). It reports whether
// the log changed. Positions from before stay valid, except in files that
// rotation has dropped: those now mean the start of the log.
//
// The files are looked at without holding the lock that the other methods
// take, so Start, End, Size and Offset never wait for the disk.
func (p *Pager) Refresh() (bool, error) {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	// Only Refresh changes the set and the ends, so they can be read
	// here without p.mu; changes are made under it.
	p.mu.Lock()
	closed, files := p.closed, p.files
	p.mu.Unlock()
	if closed {
		return false, fmt.Errorf("refresh log %s: %w", p.path, fs.ErrClosed)
	}
	last := files[len(files)-1]
	fi, err := os.Stat(p.path)
	switch {
	case err == nil && !os.SameFile(fi, last.fi):
		return p.rescan(files)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("refresh log: %w", err)
	}
	// Missing path: a rotation in progress; the next look will see it.
	end, err := grownEnd(last)
	if err != nil || end == last.end {
		return false, err
	}
	p.mu.Lock()
	last.end = end
	p.mu.Unlock()
	return true, nil
}

// grownEnd returns where pf's complete entries end now.
func grownEnd(pf *pagerFile) (int64, error) {
	st, err := pf.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("refresh log: %w", err)
	}
	size := st.Size()
	if size == pf.end {
		return pf.end, nil
	}
	from := pf.end
	if size < pf.end {
		from = 0 // truncated under us: look at what is there now
	}
	end, err := lastLineEnd(pf.f, from, size)
	if err != nil {
		return 0, fmt.Errorf("refresh log: %w", err)
	}
	return end, nil
}

// lastLineEnd returns the offset just past the last '\n' in f's bytes
// [from, size), or from if there is none.
func lastLineEnd(f *os.File, from, size int64) (int64, error) {
	var block [16 << 10]byte
	end := size
	for end > from {
		n := min(int64(len(block)), end-from)
		b := block[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return from, nil
}

// rescan lists the file set again after a rotation; files is the set held.
func (p *Pager) rescan(files []*pagerFile) (bool, error) {
	list, err := openLogFiles(p.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // removed: keep showing what we hold
		}
		return false, fmt.Errorf("refresh log: %w", err)
	}
	held := func(fi os.FileInfo) *pagerFile {
		for _, pf := range files {
			if os.SameFile(pf.fi, fi) {
				return pf
			}
		}
		return nil
	}
	// Files already held keep their place; new ones must all be newer.
	ordered := true
	lastSeq, seenNew := int64(-1), false
	for _, lf := range list {
		if pf := held(lf.fi); pf != nil {
			if seenNew || pf.seq < lastSeq {
				ordered = false
			}
			lastSeq = pf.seq
		} else {
			seenNew = true
		}
	}
	type kept struct {
		pf  *pagerFile
		end int64
	}
	// Where the newest file dropped ends now (it is held: it cannot grow
	// once rotated, and may have grown since the last look).
	gone := struct{ seq, end int64 }{-1, 0}
	for _, pf := range files {
		if held := slices.ContainsFunc(list, func(lf *logFile) bool { return os.SameFile(lf.fi, pf.fi) }); !held && ordered && pf.seq > gone.seq {
			end, err := grownEnd(pf)
			if err != nil {
				end = pf.end
			}
			gone.seq, gone.end = pf.seq, end
		}
	}
	var keep []kept
	var fresh []*logFile
	var ends []int64
	var ferr error
	for _, lf := range list {
		if pf := held(lf.fi); pf != nil && ordered {
			lf.f.Close()
			end, err := grownEnd(pf)
			if err != nil {
				ferr, end = cmp.Or(ferr, err), pf.end
			}
			keep = append(keep, kept{pf, end})
			continue
		}
		end, err := completeEnd(lf.f)
		if err != nil {
			ferr = cmp.Or(ferr, err)
		}
		keep = append(keep, kept{})
		fresh = append(fresh, lf)
		ends = append(ends, end)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, lf := range fresh {
			lf.f.Close()
		}
		return false, fmt.Errorf("refresh log %s: %w", p.path, fs.ErrClosed)
	}
	next := make([]*pagerFile, 0, len(keep))
	for _, k := range keep {
		if k.pf == nil {
			k.pf = p.newFile(fresh[0], ends[0])
			fresh, ends = fresh[1:], ends[1:]
		} else {
			k.pf.end = k.end
		}
		next = append(next, k.pf)
	}
	for _, pf := range p.files {
		if !slices.Contains(next, pf) {
			pf.release()
		}
	}
	if gone.seq >= 0 {
		p.gone = gone
	}
	p.files = next
	return true, ferr
}

// snapshot is the file set as an operation sees it: ends fixed at its start.
type snapshot struct {
	files []snapFile
	gone  struct{ seq, end int64 }
}

type snapFile struct {
	pf  *pagerFile
	seq int64
	end int64
}

func (p *Pager) acquire(op string) (*snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("%s %s: %w", op, p.path, fs.ErrClosed)
	}
	s := &snapshot{files: make([]snapFile, len(p.files)), gone: p.gone}
	for i, pf := range p.files {
		pf.refs.Add(1)
		s.files[i] = snapFile{pf: pf, seq: pf.seq, end: pf.end}
	}
	return s, nil
}

func (s *snapshot) release() {
	for _, f := range s.files {
		f.pf.release()
	}
}

func (s *snapshot) start() Pos { return Pos{file: s.files[0].seq} }

// lostAfter reports whether what followed pos was rotated away: pos is in
// a file the set no longer holds, and is not at the end of the file just
// before the set's first.
func (s *snapshot) lostAfter(pos Pos) bool {
	if pos.file == 0 || pos.file >= s.files[0].seq {
		return false
	}
	return !(pos.file == s.gone.seq && pos.off >= s.gone.end && s.files[0].seq == pos.file+1)
}

func (s *snapshot) end() Pos {
	last := s.files[len(s.files)-1]
	return Pos{file: last.seq, off: last.end}
}

// locate turns a position into a file index, offset and piece, clamped to
// what the snapshot holds.
func (s *snapshot) locate(pos Pos) (int, int64, int) {
	for i, f := range s.files {
		switch {
		case f.seq == pos.file:
			off := max(min(pos.off, f.end), 0)
			piece := max(pos.piece, 0)
			if off == f.end {
				piece = 0
			}
			return i, off, piece
		case f.seq > pos.file:
			return i, 0, 0 // its file was dropped: the oldest left
		}
	}
	last := len(s.files) - 1
	return last, s.files[last].end, 0
}

// atEnd reports whether nothing follows offset off of file fi.
func (s *snapshot) atEnd(fi int, off int64) bool {
	if off < s.files[fi].end {
		return false
	}
	for _, f := range s.files[fi+1:] {
		if f.end > 0 {
			return false
		}
	}
	return true
}

// offset is pos as a byte offset into the concatenated files.
func (s *snapshot) offset(pos Pos) int64 {
	fi, off, _ := s.locate(pos)
	for _, f := range s.files[:fi] {
		off += f.end
	}
	return off
}

func (s *snapshot) size() int64 {
	var n int64
	for _, f := range s.files {
		n += f.end
	}
	return n
}

// Start is the position of the first line.
func (p *Pager) Start() Pos {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.files) == 0 {
		return Pos{}
	}
	return Pos{file: p.files[0].seq}
}

// End is the position after the last complete entry.
func (p *Pager) End() Pos {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.files) == 0 {
		return Pos{}
	}
	last := p.files[len(p.files)-1]
	return Pos{file: last.seq, off: last.end}
}

// Size is the number of bytes of complete entries in the set.
func (p *Pager) Size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, pf := range p.files {
		n += pf.end
	}
	return n
}

// Offset is pos as a byte offset into the set's files laid end to end
// (oldest first), for showing how far into the log a position is.
func (p *Pager) Offset(pos Pos) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, pf := range p.files {
		switch {
		case pf.seq == pos.file:
			return n + max(min(pos.off, pf.end), 0)
		case pf.seq > pos.file:
			return n
		}
		n += pf.end
	}
	return n
}

// After returns up to n lines starting at pos, oldest first. It returns
// fewer at the end of the log, or once the lines hold a megabyte of text
// (at least one is returned). The last line may be Partial. If what
// followed pos was rotated away, the first line is a Lost marker, and the
// lines after it are the first the log holds now.
func (p *Pager) After(ctx context.Context, pos Pos, n int) ([]Line, error) {
	s, err := p.acquire("read log")
	if err != nil {
		return nil, err
	}
	defer s.release()
	var lost []Line
	if s.lostAfter(pos) {
		lost = []Line{{Pos: pos, Next: s.start(), Lost: true}}
		pos = s.start()
		if n--; n <= 0 {
			return lost, nil
		}
	}
	lr := newForwardLines(s, pos, pageBlock)
	out, err := take(ctx, lr, n)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", p.path, err)
	}
	return append(lost, out...), nil
}

// lineSource yields lines one by one, forwards or backwards.
type lineSource interface {
	next(ctx context.Context, ln *Line) (bool, error)
}

// take copies up to n lines from src, stopping early once they hold a
// page's budget of text.
func take(ctx context.Context, src lineSource, n int) ([]Line, error) {
	var out []Line
	var ln Line
	text := 0
	for len(out) < n && text < pageBudget {
		ok, err := src.next(ctx, &ln)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		ln.Text = bytes.Clone(ln.Text)
		text += len(ln.Text)
		out = append(out, ln)
	}
	return out, nil
}

// Before returns up to n lines that end at or before pos, oldest first:
// the lines just above pos. It returns fewer at the start of the log, or
// once the lines hold a megabyte of text (at least one is returned).
func (p *Pager) Before(ctx context.Context, pos Pos, n int) ([]Line, error) {
	s, err := p.acquire("read log")
	if err != nil {
		return nil, err
	}
	defer s.release()
	lr, err := newBackwardLines(ctx, s, pos)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", p.path, err)
	}
	out, err := take(ctx, lr, n)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", p.path, err)
	}
	slices.Reverse(out)
	return out, nil
}

// Search looks for the first line holding query, ignoring case: forward,
// the lines starting at from; backward, the lines before from, nearest
// first. Only the first MaxLineLen bytes of a line are searched. It
// reports false when no line matches, and ctx.Err() when cancelled.
func (p *Pager) Search(ctx context.Context, from Pos, query string, backward bool) (Line, bool, error) {
	if query == "" {
		return Line{}, false, nil
	}
	s, err := p.acquire("search log")
	if err != nil {
		return Line{}, false, err
	}
	defer s.release()
	m := newFolder(query)
	rf := newRawFilter(query)
	var next func(context.Context, *Line) (bool, error)
	if backward {
		lr, err := newBackwardLines(ctx, s, from)
		if err != nil {
			return Line{}, false, fmt.Errorf("search log %s: %w", p.path, err)
		}
		lr.bw.block, lr.filter = searchBlock, rf
		next = lr.next
	} else {
		lr := newForwardLines(s, from, searchBlock)
		lr.filter = rf
		next = lr.next
	}
	var ln Line
	for {
		ok, err := next(ctx, &ln)
		if err != nil {
			return Line{}, false, fmt.Errorf("search log %s: %w", p.path, err)
		}
		if !ok {
			return Line{}, false, nil
		}
		if m.match(ln.Text) {
			ln.Text = bytes.Clone(ln.Text)
			return ln, true, nil
		}
	}
}

// folder matches a query against text ignoring case: both are lowered
// rune by rune (unicode.ToLower), ASCII on a fast path.
type folder struct {
	needle []byte
	buf    []byte
}

func newFolder(q string) *folder {
	return &folder{needle: lowerInto(nil, []byte(q))}
}

func (m *folder) match(text []byte) bool {
	m.buf = lowerInto(m.buf[:0], text)
	return bytes.Contains(m.buf, m.needle)
}

// lowerInto appends the lower-case form of b to dst.
func lowerInto(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		// Eight ASCII bytes at a time: add to each lane so that its high
		// bit tells >= 'A' and > 'Z'; set 0x20 where between.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if x&lanes80 != 0 {
				break
			}
			upper := (x + lanes01*(0x80-'A')) &^ (x + lanes01*(0x80-'Z'-1)) & lanes80
			dst = binary.LittleEndian.AppendUint64(dst, x|upper>>2)
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += size
	}
	return dst
}

// rawFilter rules out runs of entries without decoding them. A query of
// printable ASCII that neither the Writer nor Docker's encoder escapes
// (no '"', '\\', '<', '>', '&') appears verbatim in the JSON line of any
// entry whose text holds it, and lower-casing the JSON lowers the text
// alike. So when a run of complete JSON lines does not hold the query, and
// each of its entries ends its last line (no line runs on into the next
// entry), none of the lines in it can match.
//
// Where chunks end mid-line the runs are short or none, and the filter
// turns itself off once it has looked at a few megabytes to little gain.
type rawFilter struct {
	needle []byte // lower-case
	low    []byte
	seen   int64 // bytes analysed
	saved  int64 // bytes in runs
	off    bool
}

// filterTrial is how much the filter looks at before judging its gain.
const filterTrial = 8 << 20

func (rf *rawFilter) active() bool { return rf != nil && !rf.off }

func newRawFilter(q string) *rawFilter {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return nil
		}
	}
	return &rawFilter{needle: lowerInto(nil, []byte(q))}
}

// endsLine is how an entry written as {"log":"...\n","stream":... ends
// the text of its log field.
var endsLine = []byte(`n","stream":"`)

// runs analyses raw, complete JSON lines starting at file offset base, and
// returns the runs of lines a search can skip, as file offsets [start,
// end): lines whose entries end their last line and do not hold the query.
// Lowering may change the length of some runes, so lines are matched up
// between raw and its lower-case copy by their '\n's.
func (rf *rawFilter) runs(raw []byte, base int64, out [][2]int64) [][2]int64 {
	out = out[:0]
	rf.low = lowerInto(rf.low[:0], raw)
	low := rf.low
	hit := bytes.Index(low, rf.needle) // next hit in low; -1: none
	end := nextLineEnd(raw, 0)         // next entry end in raw; -1: none
	runStart := -1
	for ls, lls := 0, 0; ls < len(raw); {
		le := ls + bytes.IndexByte(raw[ls:], '\n') // raw holds complete lines
		lle := lls + bytes.IndexByte(low[lls:], '\n')
		if hit >= 0 && hit < lls {
			if h := bytes.Index(low[lls:], rf.needle); h >= 0 {
				hit = lls + h
			} else {
				hit = -1
			}
		}
		if end >= 0 && end < ls {
			end = nextLineEnd(raw, ls)
		}
		ok := end >= ls && end < le && !(hit >= lls && hit < lle)
		switch {
		case ok && runStart < 0:
			runStart = ls
		case !ok && runStart >= 0:
			out = append(out, [2]int64{base + int64(runStart), base + int64(ls)})
			runStart = -1
		}
		ls, lls = le+1, lle+1
	}
	if runStart >= 0 {
		out = append(out, [2]int64{base + int64(runStart), base + int64(len(raw))})
	}
	rf.seen += int64(len(raw))
	for _, r := range out {
		rf.saved += r[1] - r[0]
	}
	if rf.seen >= filterTrial && rf.saved < rf.seen/2 {
		rf.off = true
	}
	return out
}

// nextLineEnd returns the offset of the next endsLine at or after from
// that ends a log field with an escaped '\n' (an odd run of '\\' before
// its 'n'), or -1.
func nextLineEnd(raw []byte, from int) int {
	for from < len(raw) {
		j := bytes.Index(raw[from:], endsLine)
		if j < 0 {
			return -1
		}
		k := from + j
		bs := 0
		for k-bs-1 >= 0 && raw[k-bs-1] == '\\' {
			bs++
		}
		if bs%2 == 1 {
			return k
		}
		from = k + len(endsLine)
	}
	return -1
}

// entry is one decoded entry; its text and ends belong to the decoder and
// are valid until the next decode.
type entry struct {
	seq    int64
	off    int64 // of the JSON line
	next   int64 // just past it
	stream string
	time   time.Time
	text   []byte
	ends   []int // offsets in text just past each '\n'
}

// pieceEnd returns where piece i of e ends and whether it ends in '\n'.
func (e *entry) pieceEnd(i int) (int, bool) {
	if i < len(e.ends) {
		return e.ends[i], true
	}
	return len(e.text), false
}

// nextAfter is the position after piece i (which ends in '\n').
func (e *entry) nextAfter(i int) Pos {
	if e.ends[i] < len(e.text) {
		return Pos{file: e.seq, off: e.off, piece: i + 1}
	}
	return Pos{file: e.seq, off: e.next}
}

// forward reads entries from a position to the end of the snapshot.
type forward struct {
	s      *snapshot
	fi     int
	buf    []byte
	bufOff int64 // file offset of buf[0]
	r, w   int   // unread bytes are buf[r:w]
	skip   bool  // inside an over-long line
	block  int
	dec    decoder
	// Searching: runs of read-ahead entries that cannot match (see
	// rawFilter.runs), analysed once per read.
	runs   [][2]int64
	runsOK bool
}

func (fw *forward) seek(fi int, off int64) {
	fw.fi, fw.bufOff, fw.r, fw.w, fw.skip, fw.runsOK = fi, off, 0, 0, false, false
}

// next returns the next decodable, non-empty entry; false at the end.
func (fw *forward) next(ctx context.Context) (entry, bool, error) {
	for fw.fi < len(fw.s.files) {
		f := fw.s.files[fw.fi]
		if i := bytes.IndexByte(fw.buf[fw.r:fw.w], '\n'); i >= 0 {
			line := fw.buf[fw.r : fw.r+i]
			off := fw.bufOff + int64(fw.r)
			fw.r += i + 1
			if fw.skip || len(line) > maxEntryLen {
				fw.skip = false
				continue
			}
			stream, t, ok := fw.dec.decode(line)
			if !ok || len(fw.dec.out) == 0 {
				continue
			}
			return entry{seq: f.seq, off: off, next: off + int64(i) + 1, stream: stream, time: t, text: fw.dec.out, ends: fw.dec.ends}, true, nil
		}
		at := fw.bufOff + int64(fw.w)
		if at >= f.end {
			fw.seek(fw.fi+1, 0)
			continue
		}
		if err := ctx.Err(); err != nil {
			return entry{}, false, err
		}
		if fw.r > 0 {
			fw.w = copy(fw.buf, fw.buf[fw.r:fw.w])
			fw.bufOff += int64(fw.r)
			fw.r = 0
		}
		if fw.w == len(fw.buf) {
			switch {
			case len(fw.buf) == 0:
				fw.buf = make([]byte, fw.block)
			case len(fw.buf) <= maxEntryLen:
				fw.buf = append(fw.buf, make([]byte, min(len(fw.buf), maxEntryLen+1-len(fw.buf)))...)
			default:
				// One line fills the largest buffer: drop it.
				fw.skip = true
				fw.bufOff += int64(fw.w)
				fw.w = 0
			}
		}
		n := int(min(int64(len(fw.buf)-fw.w), f.end-at))
		got, err := f.pf.f.ReadAt(fw.buf[fw.w:fw.w+n], at)
		fw.w += got
		fw.runsOK = false
		if err != nil && !errors.Is(err, io.EOF) {
			return entry{}, false, err
		}
		if got == 0 {
			fw.seek(fw.fi+1, 0) // shorter than it was: nothing more here
		}
	}
	return entry{}, false, nil
}

// skipRaw moves past the read-ahead entries that rf rules out. It must be
// called between lines, at an entry boundary.
func (fw *forward) skipRaw(rf *rawFilter) {
	if fw.skip {
		return
	}
	if !fw.runsOK {
		buf := fw.buf[fw.r:fw.w]
		fw.runs = rf.runs(buf[:bytes.LastIndexByte(buf, '\n')+1], fw.bufOff+int64(fw.r), fw.runs)
		fw.runsOK = true
	}
	at := fw.bufOff + int64(fw.r)
	for len(fw.runs) > 0 && fw.runs[0][1] <= at {
		fw.runs = fw.runs[1:]
	}
	if len(fw.runs) > 0 && fw.runs[0][0] <= at {
		fw.r += int(fw.runs[0][1] - at)
		fw.runs = fw.runs[1:]
	}
}

// forwardLines assembles display lines from a forward entry reader.
type forwardLines struct {
	fw    forward
	e     entry
	have  bool // e is loaded
	piece int  // next piece of e
	at    int  // where it starts in e.text
	first struct {
		off   int64
		piece int
	}
	acc    lineText
	filter *rawFilter // searching: skip what cannot match
}

func newForwardLines(s *snapshot, pos Pos, block int) *forwardLines {
	fi, off, piece := s.locate(pos)
	lr := &forwardLines{fw: forward{s: s, block: block}}
	lr.fw.seek(fi, off)
	lr.first.off, lr.first.piece = off, piece
	return lr
}

// next sets *ln to the next line (its Text borrowed until the next call);
// false at the end of the log.
func (lr *forwardLines) next(ctx context.Context, ln *Line) (bool, error) {
	lr.acc.reset()
	if lr.filter.active() && lr.first.piece == 0 && (!lr.have || lr.at >= len(lr.e.text)) {
		// Between entries, and the last line ended with its entry.
		lr.fw.skipRaw(lr.filter)
	}
	started := false
	for {
		if !lr.have || lr.at >= len(lr.e.text) {
			e, ok, err := lr.fw.next(ctx)
			if err != nil {
				return false, err
			}
			if !ok {
				if !started {
					return false, nil
				}
				ln.Next = Pos{file: lr.e.seq, off: lr.e.next}
				ln.Text, ln.Cut = lr.acc.text()
				ln.Partial = true
				return true, nil
			}
			lr.e, lr.have, lr.piece, lr.at = e, true, 0, 0
			if lr.first.piece > 0 {
				// The first entry: start after the lines pos skips.
				if e.off == lr.first.off {
					lr.piece = min(lr.first.piece, len(e.ends))
					if lr.piece > 0 {
						lr.at = e.ends[lr.piece-1]
					}
				}
				lr.first.piece = 0
				if lr.at >= len(e.text) {
					continue
				}
			}
		}
		e := &lr.e
		end, nl := e.pieceEnd(lr.piece)
		if !started {
			*ln = Line{Pos: Pos{file: e.seq, off: e.off, piece: lr.piece}, Stream: e.stream, Time: e.time}
			started = true
		}
		p := e.text[lr.at:end]
		if nl {
			p = p[:len(p)-1]
		}
		lr.acc.add(p)
		lr.at = end
		if nl {
			ln.Next = e.nextAfter(lr.piece)
			lr.piece++
			ln.Text, ln.Cut = lr.acc.text()
			return true, nil
		}
	}
}

// lineText collects a line's text, keeping its first MaxLineLen bytes.
type lineText struct {
	b     []byte
	total int
}

// keepLen is what is kept: a little over MaxLineLen, to cut on a rune.
const keepLen = MaxLineLen + utf8.UTFMax

func (t *lineText) reset() { t.b, t.total = t.b[:0], 0 }

func (t *lineText) add(p []byte) {
	t.total += len(p)
	if room := keepLen - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(len(p), room)]...)
	}
}

func (t *lineText) text() ([]byte, bool) { return cutLine(t.b, t.total) }

// cutLine cuts the kept start of a line of total bytes to MaxLineLen,
// without splitting a rune.
func cutLine(b []byte, total int) ([]byte, bool) {
	if total <= MaxLineLen {
		return b, false
	}
	n := MaxLineLen
	for k := 0; k < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(b[n]); k++ {
		n--
	}
	return b[:n], true
}

// backward reads entries before a position, nearest first.
type backward struct {
	s      *snapshot
	fi     int
	data   []byte // unconsumed bytes [bufOff, bufOff+len(data)), ending in '\n'
	bufOff int64
	spare  []byte
	skip   bool // data's first line is the end of an over-long one
	block  int
	dec    decoder
	runs   [][2]int64 // searching: see forward
	runsOK bool
}

// prev returns the entry before the last one returned; false at the start.
func (bw *backward) prev(ctx context.Context) (entry, bool, error) {
	for bw.fi >= 0 {
		f := bw.s.files[bw.fi]
		if len(bw.data) > 0 {
			j := bytes.LastIndexByte(bw.data[:len(bw.data)-1], '\n')
			if j >= 0 || bw.bufOff == 0 {
				line := bw.data[j+1 : len(bw.data)-1]
				off := bw.bufOff + int64(j+1)
				bw.data = bw.data[:j+1]
				if len(line) > maxEntryLen {
					continue
				}
				stream, t, ok := bw.dec.decode(line)
				if !ok || len(bw.dec.out) == 0 {
					continue
				}
				return entry{seq: f.seq, off: off, next: off + int64(len(line)) + 1, stream: stream, time: t, text: bw.dec.out, ends: bw.dec.ends}, true, nil
			}
		} else if bw.bufOff == 0 {
			bw.fi--
			if bw.fi >= 0 {
				bw.bufOff = bw.s.files[bw.fi].end
				bw.data, bw.skip, bw.runsOK = bw.data[:0], false, false
			}
			continue
		}
		// data holds at most part of one line: read the block before it.
		if err := ctx.Err(); err != nil {
			return entry{}, false, err
		}
		if len(bw.data) > maxEntryLen {
			// Too long to hold: drop what we have, find its start.
			bw.data, bw.skip = bw.data[:0], true
		}
		// Read at least as much as is held, so a long line costs O(length).
		n := int(min(int64(max(bw.block, len(bw.data))), bw.bufOff))
		size := n + len(bw.data)
		if cap(bw.spare) < size {
			bw.spare = make([]byte, size, size+bw.block)
		}
		nd := bw.spare[:size]
		copy(nd[n:], bw.data)
		pos := bw.bufOff - int64(n)
		if _, err := f.pf.f.ReadAt(nd[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return entry{}, false, err
		}
		bw.spare, bw.data, bw.bufOff = bw.data[:0], nd, pos
		bw.runsOK = false
		if bw.skip && len(bw.data) == n {
			// The over-long line continues: keep only up to its start.
			if k := bytes.LastIndexByte(bw.data, '\n'); k >= 0 {
				bw.data = bw.data[:k+1]
			} else {
				bw.data = bw.data[:0]
			}
			if len(bw.data) > 0 || bw.bufOff == 0 {
				bw.skip = false
			}
		}
	}
	return entry{}, false, nil
}

// skipRaw moves back before the read-ahead entries that rf rules out, and
// reports whether it did: then the entry before the next one returned ends
// its last line.
func (bw *backward) skipRaw(rf *rawFilter) bool {
	if bw.skip || len(bw.data) == 0 {
		return false
	}
	if !bw.runsOK {
		start := 0 // the first complete line: data may begin inside one
		if bw.bufOff > 0 {
			start = bytes.IndexByte(bw.data, '\n') + 1
		}
		bw.runs = rf.runs(bw.data[start:], bw.bufOff+int64(start), bw.runs)
		bw.runsOK = true
	}
	at := bw.bufOff + int64(len(bw.data))
	for n := len(bw.runs); n > 0 && bw.runs[n-1][0] >= at; n-- {
		bw.runs = bw.runs[:n-1]
	}
	n := len(bw.runs)
	if n == 0 || bw.runs[n-1][1] < at {
		return false
	}
	bw.data = bw.data[:bw.runs[n-1][0]-bw.bufOff]
	bw.runs = bw.runs[:n-1]
	return true
}

// backwardLines assembles display lines from a backward entry reader,
// nearest first.
type backwardLines struct {
	bw    backward
	e     entry
	have  bool
	piece int // next piece of e to take, counting down
	atEnd bool

	// The pending line: its end has been seen, not yet its start. Its
	// pieces are copied into buf; segs lists them from the line's end to
	// its start, and only the line's first keepLen bytes are kept.
	open    bool
	buf     []byte
	segs    [][2]int
	kept    int // bytes in segs
	total   int // bytes of the whole line
	after   Pos // where the line after it starts
	partial bool
	start   Pos // of the piece most recently put in front
	stream  string
	time    time.Time
	out     []byte
	filter  *rawFilter // searching: skip what cannot match
}

func newBackwardLines(ctx context.Context, s *snapshot, pos Pos) (*backwardLines, error) {
	fi, off, piece := s.locate(pos)
	lr := &backwardLines{bw: backward{s: s, fi: fi, bufOff: off, block: pageBlock}}
	lr.atEnd = s.atEnd(fi, off)
	if piece > 0 {
		// The lines of the entry at pos that come before it.
		fw := forward{s: s, block: pageBlock}
		fw.seek(fi, off)
		e, ok, err := fw.next(ctx)
		if err != nil {
			return nil, err
		}
		if ok && e.off == off {
			e.text = bytes.Clone(e.text)
			e.ends = slices.Clone(e.ends)
			lr.e, lr.have, lr.piece = e, true, min(piece, len(e.ends))-1
		}
	}
	return lr, nil
}

// next sets *ln to the next line going back (its Text borrowed until the
// next call); false at the start of the log.
func (lr *backwardLines) next(ctx context.Context, ln *Line) (bool, error) {
	for {
		if !lr.have || lr.piece < 0 {
			if lr.filter.active() && lr.bw.skipRaw(lr.filter) && lr.open {
				// The entry before ends its line: the pending one
				// starts where it is.
				lr.emit(ln)
				return true, nil
			}
			e, ok, err := lr.bw.prev(ctx)
			if err != nil {
				return false, err
			}
			if !ok {
				lr.have = false
				if lr.open {
					lr.emit(ln)
					return true, nil
				}
				return false, nil
			}
			lr.e, lr.have, lr.piece = e, true, len(e.ends)
		}
		e := &lr.e
		i := lr.piece
		lr.piece--
		end, nl := e.pieceEnd(i)
		start := 0
		if i > 0 {
			start = e.ends[i-1]
		}
		if start == end {
			continue // the empty piece after a final '\n'
		}
		p := e.text[start:end]
		switch {
		case nl && lr.open:
			// The pending line starts after this piece. Hand it out
			// (its text lives in lr.buf) and take the piece next time.
			lr.piece++
			lr.emit(ln)
			return true, nil
		case nl:
			lr.begin(e.nextAfter(i), false)
			p = p[:len(p)-1]
		case !lr.open:
			// Output that does not end its line yet: only at the log's end.
			lr.begin(Pos{file: e.seq, off: e.next}, lr.atEnd)
		}
		lr.prepend(e, i, p)
	}
}

func (lr *backwardLines) begin(next Pos, partial bool) {
	lr.open, lr.after, lr.partial = true, next, partial
	lr.buf, lr.segs, lr.kept, lr.total = lr.buf[:0], lr.segs[:0], 0, 0
}

// prepend puts piece i of e in front of the pending line.
func (lr *backwardLines) prepend(e *entry, i int, p []byte) {
	lr.total += len(p)
	lr.start = Pos{file: e.seq, off: e.off, piece: i}
	lr.stream, lr.time = e.stream, e.time
	if len(p) == 0 {
		return
	}
	if len(p) > keepLen {
		p = p[:keepLen]
	}
	lr.segs = append(lr.segs, [2]int{len(lr.buf), len(lr.buf) + len(p)})
	lr.buf = append(lr.buf, p...)
	lr.kept += len(p)
	// Drop the line's end while its start alone is long enough.
	drop := 0
	for drop < len(lr.segs)-1 {
		sg := lr.segs[drop]
		if lr.kept-(sg[1]-sg[0]) < keepLen {
			break
		}
		lr.kept -= sg[1] - sg[0]
		drop++
	}
	if drop > 0 {
		lr.segs = lr.segs[:copy(lr.segs, lr.segs[drop:])]
	}
	if len(lr.buf) > 4*keepLen {
		// Compact: move the kept pieces to the front of buf.
		n := 0
		for k, sg := range lr.segs {
			w := copy(lr.buf[n:], lr.buf[sg[0]:sg[1]])
			lr.segs[k] = [2]int{n, n + w}
			n += w
		}
		lr.buf = lr.buf[:n]
	}
}

func (lr *backwardLines) emit(ln *Line) {
	var text []byte
	if len(lr.segs) == 1 {
		sg := lr.segs[0]
		text = lr.buf[sg[0]:sg[1]]
	} else {
		lr.out = lr.out[:0]
		for k := len(lr.segs) - 1; k >= 0; k-- {
			sg := lr.segs[k]
			lr.out = append(lr.out, lr.buf[sg[0]:sg[1]]...)
		}
		text = lr.out
	}
	if len(text) > keepLen {
		text = text[:keepLen]
	}
	text, cut := cutLine(text, lr.total)
	*ln = Line{Pos: lr.start, Next: lr.after, Stream: lr.stream, Time: lr.time, Text: text, Cut: cut, Partial: lr.partial}
	lr.open = false
}
