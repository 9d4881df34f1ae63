package tunnel

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/outpostmesh/outpost/pki"
)

// LAN announcement on the wire (one UDP datagram, broadcast to LANOptions.Port):
//
//	+-----------+------------------+-----------+-------------------+----------------+
//	| "OPLAN1"  | body len: u16 BE | body JSON | sig len: u16 BE   | signature      |
//	+-----------+------------------+-----------+-------------------+----------------+
//
// body is lanBody. The signature is made with the node's certificate key over
// SHA-256(lanSigContext || body); the certificate travels in the body and must verify
// against the cluster CA and name body.Node. Receivers drop announcements whose timestamp is
// more than MaxAge away from their clock or not newer than the last one from that node
// (replay), and those from themselves.
const (
	lanMagic      = "OPLAN1"
	lanSigContext = "outpost lan announcement v1\x00"
	lanMaxPacket  = 4096
)

type lanBody struct {
	Node string `json:"node"`
	// Port is the agent socket's UDP port; the address is the datagram's source IP.
	Port int `json:"port"`
	// TS is the send time in Unix nanoseconds.
	TS int64 `json:"ts"`
	// Cert is the node certificate (DER).
	Cert []byte `json:"cert"`
}

func encodeAnnouncement(certDER []byte, key crypto.PrivateKey, b lanBody) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tunnel: key %T cannot sign", key)
	}
	b.Cert = certDER
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		sig, err = signer.Sign(rand.Reader, append([]byte(lanSigContext), body...), crypto.Hash(0))
	} else {
		sum := sha256.Sum256(append([]byte(lanSigContext), body...))
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(lanMagic)
	_ = binary.Write(&buf, binary.BigEndian, uint16(len(body)))
	buf.Write(body)
	_ = binary.Write(&buf, binary.BigEndian, uint16(len(sig)))
	buf.Write(sig)
	return buf.Bytes(), nil
}

func decodeAnnouncement(pkt []byte, roots *x509.CertPool) (*lanBody, error) {
	rest, ok := bytes.CutPrefix(pkt, []byte(lanMagic))
	if !ok {
		return nil, fmt.Errorf("%w: no magic", ErrBadAnnouncement)
	}
	body, rest, err := cutField(rest)
	if err != nil {
		return nil, err
	}
	sig, rest, err := cutField(rest)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: bad framing", ErrBadAnnouncement)
	}
	var b lanBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	cert, err := x509.ParseCertificate(b.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	if _, err := pki.VerifyNode(cert, nil, roots, b.Node); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	msg := append([]byte(lanSigContext), body...)
	sum := sha256.Sum256(msg)
	valid := false
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		valid = ecdsa.VerifyASN1(pub, sum[:], sig)
	case *rsa.PublicKey:
		valid = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case ed25519.PublicKey:
		valid = ed25519.Verify(pub, msg, sig)
	}
	if !valid {
		return nil, fmt.Errorf("%w: bad signature", ErrBadAnnouncement)
	}
	if b.Port <= 0 || b.Port > 65535 {
		return nil, fmt.Errorf("%w: bad port", ErrBadAnnouncement)
	}
	return &b, nil
}

func cutField(b []byte) (field, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadAnnouncement)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadAnnouncement)
	}
	return b[2 : 2+n], b[2+n:], nil
}
