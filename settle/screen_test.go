package settle

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// periodBatch is a ReconcilePeriodColumns batch of the given keys and
// period indexes, every volume 1.
func periodBatch(keys []int64, index []int32) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var cols []arrow.Array
	for i, name := range ReconcilePeriodColumns {
		var a arrow.Array
		switch {
		case name == "period_index":
			b := array.NewInt32Builder(mem)
			b.AppendValues(index, nil)
			a = b.NewArray()
		default:
			b := array.NewInt64Builder(mem)
			for _, k := range keys {
				if i == 0 {
					b.Append(k)
				} else {
					b.Append(1)
				}
			}
			a = b.NewArray()
		}
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType()})
		cols = append(cols, a)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(keys)))
}

// The store need not sort the periods: a CDR's periods that do not come
// together, or not in period order, send it to the whole evaluation
// (pCount < 0) instead of screening it with its periods mixed up.
func TestScanPeriodsNeedsEachCDRsInOrder(t *testing.T) {
	st := newScreenState()
	st.reset(100, 100+screenKeys-1)
	rec := periodBatch([]int64{100, 100, 101, 101, 102, 103, 102}, []int32{0, 1, 1, 0, 0, 0, 1})
	defer rec.Release()
	if err := st.scanPeriods(rec); err != nil {
		t.Fatal(err)
	}
	if st.pCount[0] != 2 || st.pFirst[0] != 0 {
		t.Errorf("CDR 100 in order: first %d count %d, want 0 and 2", st.pFirst[0], st.pCount[0])
	}
	for _, k := range []int{1, 2} {
		if st.pCount[k] >= 0 {
			t.Errorf("CDR %d (periods out of order or apart): count %d, want it evaluated whole", 100+k, st.pCount[k])
		}
	}
	if st.pCount[3] != 1 {
		t.Errorf("CDR 103: count %d, want 1", st.pCount[3])
	}
}
