"""The pure core every layer shares: the billing model, the seed's log codes, periods,
billing records, serialisation, the CSV export, paths and the GC pause.
"""
