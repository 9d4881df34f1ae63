package hubproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	frames := []*Frame{
		{Type: TypeHello, Hello: &Hello{Node: "edge-1", Inventory: []Held{{Ref: Ref{Resource: "/v1/pods", Namespace: "ns", Name: "p"}, ResourceVersion: "12"}}}},
		{Type: TypeSync, Seq: 1, Changes: []Change{{Ref: Ref{Resource: "/v1/configmaps", Namespace: "ns", Name: "c"}, Op: OpUpsert, ResourceVersion: "7", Object: []byte(`{"kind":"ConfigMap"}`)}}},
		{Type: TypeSync, Seq: 2, Changes: []Change{{Ref: Ref{Resource: "/v1/pods", Namespace: "ns", Name: "p"}, Op: OpDelete, ResourceVersion: "9"}}},
		{Type: TypeAck, Seq: 2},
		{Type: TypeStatus, Seq: 1, Status: []StatusUpdate{{Ref: Ref{Resource: "/v1/nodes", Name: "edge-1"}, Object: []byte(`{}`)}}},
		{Type: TypeError, Error: "bye"},
	}
	var buf bytes.Buffer
	for _, f := range frames {
		if err := WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range frames {
		got, err := ReadFrame(&buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want.Type || got.Seq != want.Seq {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func TestFrameBadInput(t *testing.T) {
	frame := func(payload string) []byte {
		b := make([]byte, 4+len(payload))
		binary.BigEndian.PutUint32(b, uint32(len(payload)))
		copy(b[4:], payload)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"zero length", []byte{0, 0, 0, 0}, ErrFrameTooLarge},
		{"oversized", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"not json", frame("{{{"), ErrMalformedFrame},
		{"unknown type", frame(`{"type":"nope"}`), ErrMalformedFrame},
		{"hello without node", frame(`{"type":"hello","hello":{}}`), ErrMalformedFrame},
		{"sync without seq", frame(`{"type":"sync"}`), ErrMalformedFrame},
		{"upsert without object", frame(`{"type":"sync","seq":1,"changes":[{"resource":"/v1/pods","name":"p","op":"upsert"}]}`), ErrMalformedFrame},
		{"bad op", frame(`{"type":"sync","seq":1,"changes":[{"resource":"/v1/pods","name":"p","op":"zap"}]}`), ErrMalformedFrame},
		{"ack without seq", frame(`{"type":"ack"}`), ErrMalformedFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadFrame(bytes.NewReader(tt.in), 1024); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := ReadFrame(bytes.NewReader(frame(`{"type":"ack","seq":1}`)[:6]), 0); err == nil {
		t.Fatal("truncated frame accepted")
	}
}
