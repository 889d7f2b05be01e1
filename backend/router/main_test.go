package router_test

import (
	"os"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
