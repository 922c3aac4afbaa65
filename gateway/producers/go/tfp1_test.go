package tfp1

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vectorFile struct {
	Vectors []struct {
		Name       string `json:"name"`
		Key        string `json:"key"`
		Credential string `json:"credential"`
		Fp         string `json:"fp"`
	} `json:"vectors"`
	Invalid []struct {
		Name       string `json:"name"`
		Key        string `json:"key"`
		Credential string `json:"credential"`
		Error      string `json:"error"`
	} `json:"invalid"`
}

func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("../../vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vf.Vectors {
		got, err := Fingerprint(v.Credential, []byte(v.Key))
		if err != nil || got != v.Fp {
			t.Errorf("%s: got %q (%v), want %q", v.Name, got, err, v.Fp)
		}
	}
	for _, v := range vf.Invalid {
		_, err := Fingerprint(v.Credential, []byte(v.Key))
		want := ErrEmptyCredential
		if v.Error == "short_key" {
			want = ErrShortKey
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: got error %v, want %v", v.Name, err, want)
		}
	}
	t.Logf("%d vectors, %d invalid", len(vf.Vectors), len(vf.Invalid))
}
