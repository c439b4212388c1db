package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/roamsettle/roamsettle/ocpi"
	"github.com/shopspring/decimal"
)

// Scale is the number of decimal places of every DECIMAL(18,6) column.
const Scale = 6

// maxScaled bounds a DECIMAL(18,6) value: 18 digits.
const maxScaled = 999_999_999_999_999_999

var pow10 = [...]int64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000,
	100_000_000, 1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000,
	10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000, 10_000_000_000_000_000,
	100_000_000_000_000_000, 1_000_000_000_000_000_000}

// scaled returns d * 10^6 as an int64 when that is exact and fits
// DECIMAL(18,6); ok is false when d has more than 6 decimals or more than 12
// integer digits. It does not allocate for ordinary values.
func scaled(d decimal.Decimal) (v int64, ok bool) {
	digits := d.NumDigits()
	if digits > 18 {
		return 0, false
	}
	coef := d.CoefficientInt64()
	exp := int(d.Exponent()) + Scale
	switch {
	case coef == 0:
		return 0, true
	case exp >= 0:
		if digits+exp > 18 {
			return 0, false
		}
		v = coef * pow10[exp]
	default:
		if -exp > 18 {
			return 0, false
		}
		p := pow10[-exp]
		if coef%p != 0 {
			return 0, false
		}
		v = coef / p
	}
	if v > maxScaled || v < -maxScaled {
		return 0, false
	}
	return v, true
}

// unscaled turns a DECIMAL(18,6) integer back into a decimal.
func unscaled(v int64) decimal.Decimal { return decimal.New(v, -Scale) }

var (
	decType  = &arrow.Decimal128Type{Precision: 18, Scale: Scale}
	tsType   = arrow.FixedWidthTypes.Timestamp_us // TIMESTAMPTZ (UTC)
	strType  = arrow.BinaryTypes.String
	blobType = arrow.BinaryTypes.Binary
	strList  = arrow.ListOf(arrow.BinaryTypes.String)
)

func col(name string, t arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: true}
}

// table is an Arrow record under construction for one SQL table. Columns are
// filled row by row through a rowCursor, in the order of the fields; the
// INSERT matches them to the table's columns by name.
type table struct {
	name   string
	schema *arrow.Schema
	b      *array.RecordBuilder
	cols   int
	rows   int
}

func newTable(name string, fields ...arrow.Field) *table {
	schema := arrow.NewSchema(fields, nil)
	return &table{name: name, schema: schema, b: array.NewRecordBuilder(memory.DefaultAllocator, schema), cols: len(fields)}
}

// reserve makes room for n more rows in every column.
func (t *table) reserve(n int) {
	for _, f := range t.b.Fields() {
		f.Reserve(n)
	}
}

// row starts a row; the caller appends every column in order then calls end.
func (t *table) row() rowCursor {
	t.rows++
	return rowCursor{t: t}
}

type rowCursor struct {
	t *table
	i int
}

func (r *rowCursor) next() array.Builder {
	b := r.t.b.Field(r.i)
	r.i++
	return b
}

// end checks that every column was given a value: a missing one would shift
// the row and corrupt the table, so it is a bug worth a panic.
func (r *rowCursor) end() {
	if r.i != r.t.cols {
		panic(fmt.Sprintf("store: table %s row has %d of %d columns", r.t.name, r.i, r.t.cols))
	}
}

// Every string goes through ocpi.ValidText: DuckDB refuses invalid UTF-8
// and would fail the whole batch (a group commit of many partners' CDRs)
// for one bad byte. The decoder already replaces and reports such text in
// payloads; this guard covers what reaches Save by other ways (a file name,
// a URL path, an object built by a caller). The check is a fast scan.
func (r *rowCursor) str(s string) { r.next().(*array.StringBuilder).Append(ocpi.ValidText(s)) }

// optStr stores the empty string as NULL: OCPI leaves optional strings out.
func (r *rowCursor) optStr(s string) {
	b := r.next().(*array.StringBuilder)
	if s == "" {
		b.AppendNull()
		return
	}
	b.Append(ocpi.ValidText(s))
}

func (r *rowCursor) blob(p []byte) { r.next().(*array.BinaryBuilder).Append(p) }
func (r *rowCursor) i64(v int64)   { r.next().(*array.Int64Builder).Append(v) }
func (r *rowCursor) u16(v int)     { r.next().(*array.Uint16Builder).Append(uint16(v)) }
func (r *rowCursor) i32(v int)     { r.next().(*array.Int32Builder).Append(int32(v)) }
func (r *rowCursor) u8(v uint8)    { r.next().(*array.Uint8Builder).Append(v) }
func (r *rowCursor) boolean(v bool) {
	r.next().(*array.BooleanBuilder).Append(v)
}

func (r *rowCursor) optBool(v *bool) {
	b := r.next().(*array.BooleanBuilder)
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(*v)
}

func (r *rowCursor) optI64(v *int64) {
	b := r.next().(*array.Int64Builder)
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(*v)
}

// ts stores a time; the zero time (absent) is NULL. DuckDB keeps microseconds.
func (r *rowCursor) ts(t time.Time) {
	b := r.next().(*array.TimestampBuilder)
	if t.IsZero() {
		b.AppendNull()
		return
	}
	b.Append(arrow.Timestamp(t.UnixMicro()))
}

func (r *rowCursor) optTS(t *time.Time) {
	if t == nil {
		r.next().(*array.TimestampBuilder).AppendNull()
		return
	}
	r.ts(*t)
}

// dec appends a decimal that checkDecimals has already proven to fit.
func (r *rowCursor) dec(d decimal.Decimal) {
	v, ok := scaled(d)
	if !ok {
		panic("store: decimal not checked before append: " + d.String())
	}
	r.next().(*array.Decimal128Builder).Append(decimal128.FromI64(v))
}

// scaledDec appends a value already scaled to DECIMAL(18,6), or NULL.
func (r *rowCursor) scaledDec(v int64, valid bool) {
	b := r.next().(*array.Decimal128Builder)
	if !valid {
		b.AppendNull()
		return
	}
	b.Append(decimal128.FromI64(v))
}

func (r *rowCursor) decNull() { r.next().(*array.Decimal128Builder).AppendNull() }

// nullableDec appends d, or NULL when it is absent, when null is set, or
// when it does not fit DECIMAL(18,6) (numbers.go has recorded why).
func (r *rowCursor) nullableDec(d decimal.NullDecimal, null bool) {
	v, ok := scaled(d.Decimal)
	b := r.next().(*array.Decimal128Builder)
	if !d.Valid || null || !ok {
		b.AppendNull()
		return
	}
	b.Append(decimal128.FromI64(v))
}

func (r *rowCursor) optDec(d decimal.NullDecimal) {
	if !d.Valid {
		r.decNull()
		return
	}
	r.dec(d.Decimal)
}

func (r *rowCursor) strs(ss []string) {
	b := r.next().(*array.ListBuilder)
	if ss == nil {
		b.AppendNull()
		return
	}
	b.Append(true)
	vb := b.ValueBuilder().(*array.StringBuilder)
	for _, s := range ss {
		vb.Append(ocpi.ValidText(s))
	}
}

// insertTables appends every non-empty table through DuckDB's Arrow scan:
// the record is registered as a temporary view and copied with one
// INSERT ... BY NAME. It runs on conn, inside the caller's transaction.
func insertTables(ctx context.Context, conn *sql.Conn, tables ...*table) error {
	return conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		execer := dc.(driver.ExecerContext)
		for _, t := range tables {
			if t.rows == 0 {
				continue
			}
			rec := t.b.NewRecordBatch()
			err := func() error {
				defer rec.Release()
				rr, err := array.NewRecordReader(t.schema, []arrow.RecordBatch{rec})
				if err != nil {
					return err
				}
				defer rr.Release()
				return withArrowView(ctx, ar, execer, rr, "stage_"+t.name, func(view string) error {
					_, err := execer.ExecContext(ctx, "INSERT INTO "+t.name+" BY NAME SELECT * FROM "+view, nil)
					return err
				})
			}()
			if err != nil {
				return fmt.Errorf("insert %d rows into %s: %w", t.rows, t.name, err)
			}
			t.rows = 0
		}
		return nil
	})
}

// withArrowView registers rr as the view name for the duration of use and
// drops it afterwards. DuckDB's Arrow scan creates an ordinary, persistent
// view over a pointer into this process: left behind, it would be committed
// into the database file and crash any other client that selects from it
// (issue 12 item 12). The DROP runs in the caller's transaction, so a
// committed batch never leaves the view in the file.
func withArrowView(ctx context.Context, ar *duckdb.Arrow, execer driver.ExecerContext, rr array.RecordReader,
	name string, use func(view string) error) error {
	release, err := ar.RegisterView(rr, name)
	if err != nil {
		return err
	}
	defer release()
	useErr := use(name)
	_, dropErr := execer.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+name, nil)
	if useErr != nil {
		return useErr
	}
	if dropErr != nil {
		return fmt.Errorf("drop view %s: %w", name, dropErr)
	}
	return nil
}

// dropStageViews removes the Arrow staging views that builds before the fix
// above left in a database (stage_cdrs, stage_priced_cdrs, ...): selecting
// from one crashes a DuckDB client.
func dropStageViews(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT view_name FROM duckdb_views()
		WHERE NOT internal AND NOT temporary AND view_name LIKE 'stage\_%' ESCAPE '\'`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP VIEW IF EXISTS "`+n+`"`); err != nil {
			return fmt.Errorf("drop stale view %s: %w", n, err)
		}
	}
	return nil
}

// nullDecimal scans a DECIMAL column exactly (the driver hands a
// duckdb.Decimal with its big.Int coefficient).
type nullDecimal struct{ decimal.NullDecimal }

func (n *nullDecimal) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.Valid = false
	case duckdb.Decimal:
		n.Decimal, n.Valid = decimal.NewFromBigInt(new(big.Int).Set(v.Value), -int32(v.Scale)), true
	case int64:
		n.Decimal, n.Valid = decimal.NewFromInt(v), true
	case string:
		d, err := decimal.NewFromString(v)
		if err != nil {
			return err
		}
		n.Decimal, n.Valid = d, true
	default:
		return fmt.Errorf("scan %T into a decimal", src)
	}
	return nil
}

// decimalColumn reads an Arrow DECIMAL column (DuckDB exports them as
// decimal128) as nullDecimal scans its database/sql value: the unscaled
// integer at the column's scale.
type decimalColumn struct {
	a     *array.Decimal128
	scale int32
}

func decimalColumnOf(col arrow.Array) (decimalColumn, error) {
	a, ok := col.(*array.Decimal128)
	if !ok {
		return decimalColumn{}, fmt.Errorf("column of %s, want a decimal128", col.DataType())
	}
	return decimalColumn{a: a, scale: a.DataType().(*arrow.Decimal128Type).Scale}, nil
}

func (d decimalColumn) at(i int) decimal.NullDecimal {
	if d.a.IsNull(i) {
		return decimal.NullDecimal{}
	}
	v := d.a.Value(i)
	if hi, lo := v.HighBits(), v.LowBits(); (hi == 0 && lo <= math.MaxInt64) || (hi == -1 && lo > math.MaxInt64) {
		return decimal.NullDecimal{Decimal: decimal.New(int64(lo), -d.scale), Valid: true}
	}
	return decimal.NullDecimal{Decimal: decimal.NewFromBigInt(v.BigInt(), -d.scale), Valid: true}
}

// stringList scans a VARCHAR[] column.
type stringList []string

func (l *stringList) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*l = nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("scan list element %T into a string", e)
			}
			out[i] = s
		}
		*l = out
	default:
		return fmt.Errorf("scan %T into a string list", src)
	}
	return nil
}
