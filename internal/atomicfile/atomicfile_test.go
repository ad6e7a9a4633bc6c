package atomicfile

import (
	"os"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Write(dir+"/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dir + "/x.json"); string(b) != "{}" {
		t.Fatal("content")
	}
	if err := Write(dir+"/missing/x.json", nil); err == nil {
		t.Fatal("want error")
	}
}
