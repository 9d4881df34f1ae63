package images

// Names of the lab's images.
const (
	// PauseImage is the pod sandbox image (containerd's sandbox_image in the lab).
	PauseImage = "outpost.local/pause:v1"
	// TestAppImage is the test application (see ./testapp for its endpoints and modes).
	TestAppImage = "outpost.local/testapp:v1"
)

// source is a main package of this repository and the image made from it.
type source struct {
	pkg  string // import path relative to the repository root
	spec Spec
}

// catalogue lists the images Build knows.
var catalogue = map[string]source{
	PauseImage: {pkg: "./test/images/pause", spec: Spec{
		Name: PauseImage,
		Path: "/pause",
	}},
	TestAppImage: {pkg: "./test/images/testapp", spec: Spec{
		Name: TestAppImage,
		Path: "/bin/testapp",
		// PATH lets exec'd commands say "testapp touch /tmp/unready".
		Env:        []string{"PATH=/bin", "PORT=8080"},
		WorkingDir: "/",
		Dirs:       []string{"/tmp", "/etc", "/var/run"},
	}},
}

// Names lists every image Build knows, pause first.
func Names() []string { return []string{PauseImage, TestAppImage} }
