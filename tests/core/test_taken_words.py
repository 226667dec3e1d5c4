"""A photo's date taken in words (app.core.images.taken_words): the wall clock the photo records, a date
from the file's time marked, and nothing made up for a date that cannot be read."""

from app.core.images.taken_words import taken_label, taken_sentence


def test_a_date_from_exif_reads_as_the_photo_records_it():
    assert taken_label("2023-08-15T10:00:00+01:00", "exif") == "15 Aug 2023"
    assert taken_sentence("2023-08-15T10:00:00+01:00", "exif") == "Taken 15 August 2023 at 10:00"
    assert taken_sentence("2023-03-20T23:59:00+09:00") == "Taken 20 March 2023 at 23:59"  # not moved to this zone


def test_a_date_from_the_file_s_time_is_marked():
    assert taken_label("2020-01-15T12:00:00", "file") == "15 Jan 2020 (file date)"
    said = taken_sentence("2020-01-15T12:00:00", "file")
    assert said.startswith("Dated 15 January 2020 at 12:00") and "file's time" in said


def test_no_date_or_an_unreadable_one_says_nothing():
    for bad in (None, "", "yesterday", "2023-13-40T00:00:00", 20230815):
        assert taken_label(bad, "exif") == "" and taken_sentence(bad) == ""
    assert taken_sentence("2023-08-15") == "Taken 15 August 2023"  # a day without a time of day
