package lower

import (
	"os"
	"testing"
)

func TestDbgFile(t *testing.T) {
	src, err := os.ReadFile(os.Getenv("F"))
	if err != nil {
		t.Skip()
	}
	in := newInterpreter(t)
	out, err := in.run(string(src))
	t.Logf("out %q err %v", out, err)
}
