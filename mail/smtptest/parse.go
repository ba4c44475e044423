package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	glmail "github.com/greenlight-cd/greenlight/mail"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Parsed is a received message as a reader sees it: decoded subject and the
// decoded text and HTML bodies.
type Parsed struct {
	Header  mail.Header
	Subject string
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
}

// Parse decodes m's data; see Parse.
func (m Message) Parse() (*Parsed, error) { return Parse(m.Data) }

// Parse reads a raw RFC 5322 message: it decodes the Subject (RFC 2047) and
// finds the first text/plain and text/html parts, however deeply nested in
// multipart containers, undoing quoted-printable or base64. Bodies come back
// with LF line ends.
func Parse(raw []byte) (*Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	p := &Parsed{Header: msg.Header}
	var dec mime.WordDecoder
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("decode subject: %w", err)
	}
	err = p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Parsed) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("parse content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: keep the transfer encoding visible, decode it here.
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read part: %w", err)
			}
			err = p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
			if err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: body})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decode %s body: %w", mediaType, err)
	}
	// Line ends are CRLF on the wire; tests compare with Go strings.
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && p.Text == "":
		p.Text = text
	case mediaType == "text/html" && p.HTML == "":
		p.HTML = text
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies wrap at 76 columns.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(b []byte) (int, error) {
	for {
		k, err := n.r.Read(b)
		j := 0
		for _, c := range b[:k] {
			if c != '\r' && c != '\n' {
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// Links returns every http(s) link of the text part, in order, found the way
// the outbox finds them.
func (p *Parsed) Links() []string { return glmail.Links(p.Text) }

// Link returns the first link of the text part that contains substr, or "".
func (p *Parsed) Link(substr string) string {
	for _, l := range p.Links() {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// HeaderCount returns how many times a header field appears in raw's header
// block, to check that no value smuggled in a second one.
func HeaderCount(raw []byte, name string) int {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	n := 0
	for _, line := range strings.Split(string(head), "\r\n") {
		k, _, ok := strings.Cut(line, ":")
		if ok && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") && strings.EqualFold(k, name) {
			n++
		}
	}
	return n
}
