package pricing

// MinorUnits is the number of decimals the compiled tariff rounds money to
// (the policy's override, else the currency's ISO 4217 minor units, else 2),
// so that a caller compares amounts at the units they were rounded to.
func (c *Compiled) MinorUnits() int { return c.minor }
