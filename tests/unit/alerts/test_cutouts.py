"""FITS cutouts: a hand-written header astropy reads without complaint, and plausible pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from skystream.alerts.synthetic.cutouts import draw_cutouts, fits_image, gaussian_noise


def _open(data: bytes) -> fits.PrimaryHDU:
    hdus = fits.open(io.BytesIO(data))
    hdus.verify("exception")
    hdu: fits.PrimaryHDU = hdus[0]
    return hdu


@pytest.mark.parametrize(
    ("ra", "dec", "size"),
    [(150.1, 2.2, 95), (359.9999, -89.99, 63), (0.0001, 45.0, 40), (180.0, 89.0, 1)],
)
def test_fits_image_round_trips_pixels_and_centres_the_wcs(
    ra: float, dec: float, size: int
) -> None:
    pixels = np.arange(size * size, dtype=np.float32).reshape(size, size) - 7.5
    data = fits_image(
        pixels, ra=ra, dec=dec, pixel_scale_arcsec=0.2, mjd=61000.25, band="r", unit="nJy"
    )

    assert len(data) % 2880 == 0
    hdu = _open(data)
    header = hdu.header
    assert (header["NAXIS1"], header["NAXIS2"], header["BITPIX"]) == (size, size, -32)
    assert (header["CTYPE1"], header["CTYPE2"]) == ("RA---TAN", "DEC--TAN")
    assert header["CRPIX1"] == header["CRPIX2"] == (size + 1) / 2
    assert (header["CRVAL1"], header["CRVAL2"]) == (ra, dec)
    assert (header["FILTER"], header["BUNIT"], header["MJD-OBS"]) == ("r", "nJy", 61000.25)
    assert header["DATE-OBS"] == "2025-11-21T06:00:00.000"
    np.testing.assert_array_equal(hdu.data, pixels)

    centre = WCS(header).pixel_to_world((size - 1) / 2, (size - 1) / 2)
    assert centre.separation(SkyCoord(ra, dec, unit="deg")).arcsec < 1e-6


def test_fits_image_pixel_scale_and_orientation() -> None:
    data = fits_image(
        np.zeros((21, 21)), ra=10.0, dec=0.0, pixel_scale_arcsec=1.0, mjd=60000.0, band="g"
    )
    wcs = WCS(_open(data).header)
    east = wcs.pixel_to_world(9, 10)  # one pixel left of the centre: east is left
    north = wcs.pixel_to_world(10, 11)
    assert east.ra.deg > 10.0
    assert north.dec.deg > 0.0
    assert east.separation(wcs.pixel_to_world(10, 10)).arcsec == pytest.approx(1.0, rel=1e-6)


def test_fits_image_needs_two_dimensions() -> None:
    with pytest.raises(ValueError, match="2-D"):
        fits_image(np.zeros(5), ra=0.0, dec=0.0, pixel_scale_arcsec=1.0, mjd=0.0, band="r")


def test_gaussian_noise_is_standard_normal_and_seeded() -> None:
    first = gaussian_noise(np.random.Generator(np.random.PCG64(3)), (200_000,))
    second = gaussian_noise(np.random.Generator(np.random.PCG64(3)), (200_000,))
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32
    assert abs(float(first.mean())) < 0.01
    assert float(first.std()) == pytest.approx(1.0, abs=0.01)


def test_draw_cutouts_puts_the_source_in_the_centre_of_the_difference() -> None:
    rng = np.random.Generator(np.random.PCG64(1))
    flux = np.array([20_000.0, -20_000.0, 5_000.0])
    images = draw_cutouts(
        rng,
        size=31,
        difference_flux=flux,
        template_flux=[0.0, 40_000.0, 1_000.0],
        psf_sigma_pixels=[1.5, 2.0, 1.2],
        noise_sigma=10.0,
        background=100.0,
    )
    for image in (images.science, images.template, images.difference):
        assert image.shape == (3, 31, 31)
        assert image.dtype == np.float32
    np.testing.assert_allclose(images.difference, images.science - images.template, atol=1e-3)
    centre = images.difference[:, 15, 15]
    median = np.median(images.difference, axis=(1, 2))
    assert np.all(np.sign(centre - median) == np.sign(flux))
    # The difference holds the new flux: its sum is about difference_flux.
    np.testing.assert_allclose(images.difference.sum(axis=(1, 2)), flux, rtol=0.1)
    # Away from the source, the template is sky: background plus noise.
    assert float(np.median(images.template[0])) == pytest.approx(100.0, abs=2.0)
    assert float(images.template[0, :5, :5].std()) == pytest.approx(10.0, rel=0.4)


def test_draw_cutouts_rejects_bad_sizes() -> None:
    rng = np.random.Generator(np.random.PCG64(1))
    with pytest.raises(ValueError, match="at least 1 pixel"):
        draw_cutouts(
            rng,
            size=0,
            difference_flux=[1.0],
            template_flux=[0.0],
            psf_sigma_pixels=1,
            noise_sigma=1,
        )
    with pytest.raises(ValueError, match="template_flux has 2 values"):
        draw_cutouts(
            rng,
            size=5,
            difference_flux=[1.0],
            template_flux=[0.0, 1.0],
            psf_sigma_pixels=1,
            noise_sigma=1,
        )
