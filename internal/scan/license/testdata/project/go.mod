module example.com/licensed

go 1.22

require (
	example.com/Upper/bsd3 v1.2.0
	example.com/agpl v1.0.0
	example.com/apache v2.1.0+incompatible
	example.com/apache11 v1.0.0
	example.com/bsd2 v0.3.0
	example.com/cc0 v1.0.0
	example.com/custom v1.0.0
	example.com/dual v1.0.0
	example.com/gpl2 v1.0.0
	example.com/gpl3 v1.0.0
	example.com/gpl3notice v1.0.0
	example.com/isc v1.0.0
	example.com/lgpl21 v1.0.0
	example.com/missing v1.0.0
	example.com/lgpl3 v1.0.0
	example.com/mit v1.0.0
	example.com/mitnonotice v1.0.0
	example.com/mpl v1.0.0
	example.com/mplfull v1.0.0
	example.com/nolicense v1.0.0
	example.com/thirdparty v1.0.0
	example.com/unlicense v1.0.0
)
