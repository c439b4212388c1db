package ocpi

import "strings"

// currencyMinorUnits maps ISO 4217 codes to their minor units (the digits
// after the decimal separator). It holds the active codes plus withdrawn ones a
// CDR of the last few years may still carry (HRK, SLL, ANG, CUC, ZWL, BGN).
// Codes without a minor unit (precious metals, XDR, XXX, XTS) are left out:
// nothing is charged in them.
var currencyMinorUnits = func() map[string]int {
	m := make(map[string]int, 180)
	for _, c := range strings.Fields(`BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF`) {
		m[c] = 0
	}
	for _, c := range strings.Fields(`BHD IQD JOD KWD LYD OMR TND`) {
		m[c] = 3
	}
	for _, c := range strings.Fields(`CLF UYW`) {
		m[c] = 4
	}
	for _, c := range strings.Fields(`AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV
		BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB
		EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD
		KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
		NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN
		SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW
		ZWG ZWL`) {
		m[c] = 2
	}
	return m
}()

// CurrencyMinorUnits returns the ISO 4217 minor units of a currency code
// (2 for EUR, 0 for JPY, 3 for KWD) and whether the code is known. The code
// must be the upper-case three-letter form OCPI requires.
func CurrencyMinorUnits(code string) (int, bool) {
	n, ok := currencyMinorUnits[code]
	return n, ok
}
