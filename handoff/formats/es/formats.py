"""Spanish formats that differ from Django's: dates in figures keep the US order, month first.

The portal serves US clinics: people type dates here as MM/DD/AAAA (the patient search says
so), forms and records they know read that way, and the English pages show the same. Django's
Spanish "d/m/Y" would make 04/03/1980 another day on the Spanish pages than on the English.
Dates in words ("3 de marzo de 2026") and the 24-hour clock stay Django's.
"""

SHORT_DATE_FORMAT = "m/d/Y"
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
