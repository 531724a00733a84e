package sbom

// The CycloneDX 1.6 JSON document, as far as Gantry writes it. Field names
// follow the specification (https://cyclonedx.org/docs/1.6/json/).

// BOM is a CycloneDX bill of materials.
type BOM struct {
	Schema       string       `json:"$schema,omitempty"`
	BOMFormat    string       `json:"bomFormat"`   // "CycloneDX"
	SpecVersion  string       `json:"specVersion"` // "1.6"
	SerialNumber string       `json:"serialNumber,omitempty"`
	Version      int          `json:"version"`
	Metadata     *Metadata    `json:"metadata,omitempty"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
}

// Metadata says when, by what and of what the BOM was made.
type Metadata struct {
	Timestamp string     `json:"timestamp,omitempty"` // RFC 3339
	Tools     *Tools     `json:"tools,omitempty"`
	Component *Component `json:"component,omitempty"`
}

// Tools are the tools that made the BOM.
type Tools struct {
	Components []Component `json:"components,omitempty"`
}

// Component is one software component.
type Component struct {
	Type       string          `json:"type"` // "library", "application"
	BOMRef     string          `json:"bom-ref,omitempty"`
	Group      string          `json:"group,omitempty"`
	Name       string          `json:"name"`
	Version    string          `json:"version,omitempty"`
	Scope      string          `json:"scope,omitempty"` // required, optional, excluded
	Licenses   []LicenseChoice `json:"licenses,omitempty"`
	Hashes     []Hash          `json:"hashes,omitempty"`
	PURL       string          `json:"purl,omitempty"`
	Properties []Property      `json:"properties,omitempty"`
}

// Hash is a digest of a component's bytes.
type Hash struct {
	Alg     string `json:"alg"` // "SHA-256"
	Content string `json:"content"`
}

// LicenseChoice is either one licence or one SPDX expression.
type LicenseChoice struct {
	License    *License `json:"license,omitempty"`
	Expression string   `json:"expression,omitempty"`
}

// License is a licence named by SPDX ID or, when it has none, by name.
type License struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Property is a name-value pair for what the specification has no field for.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Dependency says which components one component depends on.
type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}
