#!/bin/sh
rm -rf /var/cache/apt/*
