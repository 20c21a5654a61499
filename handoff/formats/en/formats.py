"""English formats that differ from Django's: times read "9:00 AM", not "9 a.m.", in opening
hours, wherever a date in figures carries a time (a referral's timeline, its messages) and in
a date in words with its time (the admin, the HSDS import page)."""

TIME_FORMAT = "g:i A"
SHORT_DATETIME_FORMAT = "m/d/Y g:i A"
DATETIME_FORMAT = "N j, Y, g:i A"
