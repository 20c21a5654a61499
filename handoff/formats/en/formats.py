"""English formats that differ from Django's: opening hours read "9:00 AM", not "9 a.m."."""

TIME_FORMAT = "g:i A"
