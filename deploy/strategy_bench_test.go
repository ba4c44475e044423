package deploy

import (
	"context"
	"testing"
)

// BenchmarkBlueGreenSwitch measures a blue-green switch: from the idle
// group, which already runs the release, being verified healthy, through
// nginx's upstream file written, tested and reloaded, to the first request
// through nginx answered by the new group. A steady stream of requests goes
// through nginx all along; the failed ones are reported (target: 0).
func BenchmarkBlueGreenSwitch(b *testing.B) {
	f, ngx := blueGreenFleet(b)
	d := New(nil)
	ctx := context.Background()
	releases := []struct{ release, version, group string }{{"a", "va", "blue"}, {"b", "vb", "green"}}
	reqs := make([]Request, 2)
	for i, r := range releases {
		reqs[i] = f.blueGreen(b, ngx, r.release, r.version, "")
		reqs[i].Log = nil
	}
	// Blue runs release a, green release b, and green is active.
	active := ""
	for _, r := range reqs {
		r.Active = active
		res, err := d.Deploy(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		active = res.Active
	}
	waitFor(b, ngx.URL, "vb")

	l := startLoad(ngx.URL)
	b.ResetTimer()
	for i := range b.N {
		r := reqs[i%2]
		r.Active = active
		res, err := d.Deploy(ctx, r)
		if err != nil {
			l.end()
			b.Fatal(err)
		}
		active = res.Active
		waitFor(b, ngx.URL, releases[i%2].version)
	}
	b.StopTimer()
	l.end()
	b.ReportMetric(float64(l.failed), "failed-requests")
	b.ReportMetric(float64(l.ok), "ok-requests")
	if l.failed > 0 {
		b.Errorf("%d requests failed during the switches; first: %s", l.failed, l.firstErr)
	}
}
