"""English formats that differ from Django's: times read "9:00 AM", not "9 a.m.", in opening
hours and wherever a date in figures carries a time (a referral's timeline, its messages)."""

TIME_FORMAT = "g:i A"
SHORT_DATETIME_FORMAT = "m/d/Y g:i A"
