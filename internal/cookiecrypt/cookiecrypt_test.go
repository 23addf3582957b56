package cookiecrypt

import (
	"bytes"
	"testing"

	"github.com/gorilla/securecookie"
)

func TestCodecsRotation(t *testing.T) {
	oldSecret := bytes.Repeat([]byte("o"), 32)
	newSecret := bytes.Repeat([]byte("n"), 32)

	before, err := Codecs("session", [][]byte{oldSecret}, 3600)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := securecookie.EncodeMulti("c", "hello", before...)
	if err != nil {
		t.Fatal(err)
	}

	after, err := Codecs("session", [][]byte{newSecret, oldSecret}, 3600)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := securecookie.DecodeMulti("c", encoded, &got, after...); err != nil {
		t.Fatalf("value from the old secret no longer decodes after rotation: %v", err)
	}
	if got != "hello" {
		t.Fatalf("got %q, want %q", got, "hello")
	}

	onlyNew, err := Codecs("session", [][]byte{newSecret}, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if err := securecookie.DecodeMulti("c", encoded, &got, onlyNew...); err == nil {
		t.Fatal("value decoded after its secret was removed")
	}
}

func TestCodecsPurposeSeparation(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 40)
	a, err := Codecs("a", [][]byte{secret}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Codecs("b", [][]byte{secret}, 0)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := securecookie.EncodeMulti("c", "v", a...)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := securecookie.DecodeMulti("c", encoded, &got, b...); err == nil {
		t.Fatal("a value made for one purpose decoded for another")
	}
}

func TestCodecsRejectsShortOrMissingSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none":  nil,
		"short": {[]byte("too short")},
	} {
		if _, err := Codecs("p", secrets, 0); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
}
