package subscribers

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// importBatchSize is how many rows one import transaction holds: enough to make a
// large import fast, few enough that the daemon never waits long for the write lock.
const importBatchSize = 1000

// RowProblem is a row of an import file that was not added, and why.
type RowProblem struct {
	Line   int // where the row starts in the file, from 1
	Reason string
}

// ImportReport says what an import did. Re-importing the same file adds nothing and
// changes nothing: every row then counts as Unchanged, Duplicates or Skipped.
type ImportReport struct {
	Rows       int          // data rows read, not counting the header and blank lines
	Added      int          // new active subscribers
	Unchanged  int          // already on the list as active or pending, left as they were
	Duplicates []RowProblem // the same address (in any letter case) as an earlier row
	Skipped    []RowProblem // on the list as unsubscribed, bounced or complained: never re-activated
	Bad        []RowProblem // invalid rows, not imported
	Warnings   []string     // about the file as a whole, such as ignored columns
}

// importRow is a valid row waiting for its batch.
type importRow struct {
	line        int
	email, name string
}

// Import adds the subscribers in a CSV file as active, source import. The first row
// names the columns: email is required, name optional, others are ignored with a
// warning. A UTF-8 byte order mark and CRLF line endings are fine. Bad rows are
// reported with their line and reason while the good ones are imported. An address
// already on the list is never changed, so an import never re-activates someone who
// unsubscribed, bounced or complained. Rows go in in batched transactions; progress,
// if not nil, is called after each batch with the number of rows read so far.
//
// A file without a usable header row gives an error wrapping ErrInvalid and imports
// nothing. On any other error, the batches already committed stay: importing the file
// again is safe.
func (s *Store) Import(ctx context.Context, r io.Reader, progress func(done int)) (ImportReport, error) {
	var rep ImportReport
	cr := csv.NewReader(skipBOM(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cols, err := readHeader(cr, &rep)
	if err != nil {
		return rep, err
	}
	seen := make(map[string]int)
	batch := make([]importRow, 0, importBatchSize)
	flush := func() error {
		if len(batch) > 0 {
			if err := s.importBatch(ctx, batch, &rep); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if progress != nil {
			progress(rep.Rows)
		}
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			rep.Rows++
			rep.Bad = append(rep.Bad, RowProblem{perr.StartLine, "not valid CSV: " + perr.Err.Error()})
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("subscribers: import: read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if row, ok := rep.accept(rec, line, cols, seen); ok {
			batch = append(batch, row)
		}
		if len(batch) == importBatchSize {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	return rep, flush()
}

// accept checks the record at line and returns its row if it is valid and its
// address is new to the file; otherwise it notes why not in rep. Blank records are
// passed over. seen maps addresses, folded as SQLite's NOCASE does, to their first line.
func (rep *ImportReport) accept(rec []string, line int, cols columns, seen map[string]int) (importRow, bool) {
	if blank(rec) {
		return importRow{}, false
	}
	rep.Rows++
	row, problem := cols.row(rec, line)
	if problem != "" {
		rep.Bad = append(rep.Bad, RowProblem{line, problem})
		return importRow{}, false
	}
	key := foldASCII(row.email)
	if first, ok := seen[key]; ok {
		rep.Duplicates = append(rep.Duplicates, RowProblem{line, fmt.Sprintf("same address as line %d", first)})
		return importRow{}, false
	}
	seen[key] = line
	return row, true
}

// skipBOM drops a UTF-8 byte order mark, which spreadsheet programs like to write.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
	}
	return br
}

// columns says where the fields an import uses are; name is -1 when absent.
type columns struct{ email, name int }

func readHeader(cr *csv.Reader, rep *ImportReport) (columns, error) {
	cols := columns{email: -1, name: -1}
	rec, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return cols, invalidf("the file is empty: it needs a header row such as email,name")
	}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return cols, invalidf("line %d: the header row is not valid CSV: %v", perr.StartLine, perr.Err)
	}
	if err != nil {
		return cols, fmt.Errorf("subscribers: import: read header: %w", err)
	}
	line, _ := cr.FieldPos(0)
	for i, cell := range rec {
		switch h := strings.ToLower(strings.TrimSpace(cell)); {
		case h == "email" && cols.email < 0:
			cols.email = i
		case h == "name" && cols.name < 0:
			cols.name = i
		case h == "email" || h == "name":
			return cols, invalidf("line %d: the header row names the %s column twice", line, h)
		case h == "":
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("column %d has no name in the header: ignored", i+1))
		default:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("column %q ignored (only email and name are imported)", strings.TrimSpace(cell)))
		}
	}
	if cols.email < 0 {
		if strings.Contains(strings.Join(rec, ""), "@") {
			return cols, invalidf("line %d holds data, not a header: the first row must name the columns, such as email,name", line)
		}
		return cols, invalidf("line %d: the header row has no email column (want a first row such as email,name)", line)
	}
	return cols, nil
}

// row returns the valid row in rec, or the reason it is bad.
func (c columns) row(rec []string, line int) (importRow, string) {
	if c.email >= len(rec) {
		return importRow{}, "no email field"
	}
	email, err := ValidateEmail(rec[c.email])
	if err != nil {
		return importRow{}, reason(err)
	}
	var name string
	if c.name >= 0 && c.name < len(rec) {
		if name, err = ValidateName(rec[c.name]); err != nil {
			return importRow{}, reason(err)
		}
	}
	return importRow{line: line, email: email, name: name}, ""
}

func reason(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// foldASCII lower-cases ASCII letters only, as SQLite's NOCASE collation does, so the
// file is de-duplicated by the same rule as the UNIQUE column.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// importBatch adds rows in one transaction and, once it commits, adds up the outcome in rep.
func (s *Store) importBatch(ctx context.Context, rows []importRow, rep *ImportReport) error {
	var out ImportReport
	err := s.inTx(ctx, "import", func(tx *sql.Tx) error {
		st, err := prepareImport(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		now := s.now().UnixMilli()
		for _, r := range rows {
			if err := st.add(ctx, r, now, &out); err != nil {
				return fmt.Errorf("subscribers: import line %d: %w", r.line, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Added += out.Added
	rep.Unchanged += out.Unchanged
	rep.Skipped = append(rep.Skipped, out.Skipped...)
	return nil
}

// importStmts are the statements an import batch runs for every row, prepared once
// per transaction.
type importStmts struct{ insert, event, status *sql.Stmt }

func prepareImport(ctx context.Context, tx *sql.Tx) (*importStmts, error) {
	var st importStmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{{&st.insert, insertSQL}, {&st.event, eventSQL}, {&st.status, `SELECT status FROM subscribers WHERE email = ?`}} {
		var err error
		if *p.stmt, err = tx.PrepareContext(ctx, p.query); err != nil {
			st.close()
			return nil, fmt.Errorf("subscribers: import: %w", err)
		}
	}
	return &st, nil
}

func (st *importStmts) close() {
	for _, s := range []*sql.Stmt{st.insert, st.event, st.status} {
		if s != nil {
			s.Close()
		}
	}
}

// add inserts r as active unless the address is taken, and counts the outcome in out.
func (st *importStmts) add(ctx context.Context, r importRow, now int64, out *ImportReport) error {
	res, err := st.insert.ExecContext(ctx, r.email, r.name, StatusActive, now, now, SourceImport)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		out.Added++
		_, err = st.event.ExecContext(ctx, id, StatusActive, SourceImport, nil, now)
		return err
	}
	var status Status
	if err := st.status.QueryRowContext(ctx, r.email).Scan(&status); err != nil {
		return err
	}
	if status == StatusActive || status == StatusPending {
		out.Unchanged++
		return nil
	}
	out.Skipped = append(out.Skipped, RowProblem{r.line, fmt.Sprintf("already on the list as %s: an import never re-subscribes anyone", status)})
	return nil
}

// Export writes the subscribers with status (all when status is "") as CSV in the
// format Import reads: a header row, then email and name, in the order they were added.
func (s *Store) Export(ctx context.Context, w io.Writer, status Status) error {
	q, args := `SELECT email, name FROM subscribers ORDER BY id`, []any(nil)
	if status != "" {
		if _, err := ParseStatus(string(status)); err != nil {
			return err
		}
		q, args = `SELECT email, name FROM subscribers WHERE status = ? ORDER BY id`, []any{status}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("subscribers: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	cw.Write([]string{"email", "name"})
	for rows.Next() {
		var email, name string
		if err := rows.Scan(&email, &name); err != nil {
			return fmt.Errorf("subscribers: export: %w", err)
		}
		if err := cw.Write([]string{email, name}); err != nil {
			return fmt.Errorf("subscribers: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("subscribers: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("subscribers: export: %w", err)
	}
	return nil
}
